#!/usr/bin/env python3
"""Writes what b4 0.16 makes of each sample here, as b4's own test_followup_trailers does:
`<name>.b4.txt` (b4 am with its defaults) and, for single, `single.sloppy.b4.txt`
(--sloppy-trailers). The samples are quire's own mail, shaped like b4's src/tests/samples.

    pip install b4==0.16.0 && python3 b4_expected.py
"""
import glob
import io
import os

import b4

here = os.path.dirname(os.path.abspath(__file__))
b4.MAIN_CONFIG['attestation-policy'] = 'off'
for path in sorted(glob.glob(os.path.join(here, '*.mbox'))):
    name = os.path.basename(path)[: -len('.mbox')]
    for suffix, sloppy in (('', False), ('.sloppy', True)):
        if sloppy and name != 'single':
            continue
        mbx = b4.LoreMailbox()
        for msg in b4.get_msgs_from_mailbox_or_maildir(path):
            mbx.add_message(msg)
        series = mbx.get_series(sloppytrailers=sloppy, codereview_trailers=False)
        out = io.BytesIO()
        b4.save_git_am_mbox(series.get_am_ready(), out)
        with open(os.path.join(here, f'{name}{suffix}.b4.txt'), 'wb') as fh:
            fh.write(out.getvalue())
