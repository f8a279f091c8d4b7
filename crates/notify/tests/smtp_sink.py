"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the notifier's tests.

Usage: smtp_sink.py DIR [PORT]. Prints the port it listens on (PORT, or a free one), then keeps
every message it receives as DIR/NNNN.json (envelope: mail_from, rcpt_tos) and DIR/NNNN.eml (the
bytes as received), the .eml renamed into place last. Recipients starting with `bounce` are refused
for good (550), those starting with `later` for now (451). Exits when its standard input closes
(the test process ended).
"""
import json
import os
import socket
import sys
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 no such user here"
        if address.startswith("later"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.directory, "%04d" % self.count)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        with open(base + ".tmp", "wb") as f:
            f.write(data)
        os.rename(base + ".tmp", base + ".eml")
        return "250 OK"


def main():
    directory = sys.argv[1]
    if len(sys.argv) > 2:
        port = int(sys.argv[2])
    else:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
