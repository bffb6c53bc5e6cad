package io.statebackend.incremental.snapshot;

/**
 * Key-ordered entries of one state, as input of {@link KeyGroupMergeIterator}. {@link #key()}
 * returns an array the caller may modify.
 */
interface SingleStateIterator extends AutoCloseable {

    boolean isValid();

    void next();

    byte[] key();

    byte[] value();

    /** The key-group of the current entry, from its key prefix. */
    int keyGroup();

    /** The id of the state in the snapshot's meta data. */
    int kvStateId();

    @Override
    void close();

    static int keyGroupOf(byte[] key, int keyGroupPrefixBytes) {
        int keyGroup = 0;
        for (int i = 0; i < keyGroupPrefixBytes; i++) {
            keyGroup = (keyGroup << 8) | (key[i] & 0xFF);
        }
        return keyGroup;
    }
}
