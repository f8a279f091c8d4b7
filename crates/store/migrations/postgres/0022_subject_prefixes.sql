-- A project can take only the mail of its list whose subject carries one of its tags
-- (`[libvirt-python]` on a list shared with libvirt), as Patchew's prefix_tags: a JSON list.
ALTER TABLE projects ADD COLUMN subject_prefixes TEXT NOT NULL DEFAULT '[]';
