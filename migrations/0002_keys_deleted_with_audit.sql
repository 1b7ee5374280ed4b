-- Deleting a principal deletes its keys in the same statement, each with its own audit row. The
-- foreign key no longer cascades: a key created for the principal while that statement waits for
-- the principal's row lock is outside the statement's snapshot, and would otherwise vanish with the
-- cascade and leave no trace; now the statement fails on it and is run again.
ALTER TABLE access_keys DROP CONSTRAINT access_keys_owner_id_fkey;
ALTER TABLE access_keys ADD CONSTRAINT access_keys_owner_id_fkey
    FOREIGN KEY (owner_id) REFERENCES principals (id);
