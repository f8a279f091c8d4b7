-- Attestation (issue 29): what a message's DKIM and patatt signatures said when it came in
-- (quire_store::Attestation as JSON), kept with the raw bytes it was verified on. NULL: never
-- verified. Not derived by a reindex (verification may need DNS, and keys rotate): kept as is,
-- or verified again by `quire reindex --attest`.
ALTER TABLE raw_messages ADD COLUMN attestation TEXT;
