package io.statebackend.incremental.restore;

import io.statebackend.incremental.rocksdb.BoundedIterator;

import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.runtime.state.KeyGroupRange;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;

import java.util.Arrays;

/**
 * Key-group prefixes of RocksDB keys: every key of every column family, timers included, starts
 * with its key group, so a key-group range is one contiguous key range.
 */
final class KeyGroupPrefixes {

    private final int prefixBytes;

    KeyGroupPrefixes(int prefixBytes) {
        this.prefixBytes = prefixBytes;
    }

    /** The prefix of {@code keyGroup}; also valid for the key group after the last one. */
    byte[] prefix(int keyGroup) {
        byte[] prefix = new byte[prefixBytes];
        CompositeKeySerializationUtils.serializeKeyGroup(keyGroup, prefix);
        return prefix;
    }

    /** The first key of the range. */
    byte[] begin(KeyGroupRange range) {
        return prefix(range.getStartKeyGroup());
    }

    /** The first key after the range. */
    byte[] end(KeyGroupRange range) {
        return prefix(range.getEndKeyGroup() + 1);
    }

    /** A key before every key. */
    byte[] lowest() {
        return new byte[prefixBytes];
    }

    /** A key after every key: key groups are below 2^15, so no prefix is all 0xFF. */
    byte[] beyondAll() {
        byte[] key = new byte[prefixBytes];
        Arrays.fill(key, (byte) 0xFF);
        return key;
    }

    /**
     * An iterator over the entries of {@code range} in a column family, from the range's first key,
     * bounded at the first key after it.
     */
    BoundedIterator iterate(
            RocksDB db,
            ColumnFamilyHandle columnFamily,
            ReadOptions readOptions,
            KeyGroupRange range) {
        return new BoundedIterator(db, columnFamily, readOptions, end(range), begin(range));
    }

    /**
     * Whether every key from {@code smallest} to {@code largest} lies in {@code range}. The largest
     * key may equal the range's end: a range tombstone's exclusive end is recorded as a file's
     * largest key, and no entry is only a prefix.
     */
    boolean within(byte[] smallest, byte[] largest, KeyGroupRange range) {
        return compare(smallest, begin(range)) >= 0 && compare(largest, end(range)) <= 0;
    }

    /** RocksDB's default byte-wise comparator: unsigned, shorter first on a common prefix. */
    static int compare(byte[] a, byte[] b) {
        int common = Math.min(a.length, b.length);
        for (int i = 0; i < common; i++) {
            int difference = (a[i] & 0xFF) - (b[i] & 0xFF);
            if (difference != 0) {
                return difference;
            }
        }
        return a.length - b.length;
    }
}
