package io.statebackend.incremental.timers;

import org.apache.flink.runtime.state.CompositeKeySerializationUtils;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;

import javax.annotation.Nullable;

/**
 * A RocksDB iterator that ends where the key-group ends: its read options carry the next
 * key-group's prefix as {@code iterate_upper_bound}. Without the bound, an iterator that reaches
 * the last element of a key-group steps on into the next one and skips every tombstone it finds
 * there before it reports the next live key; the tombstones at the front of a key-group are the
 * elements already polled from it, which can be many more than the elements left. With the bound
 * RocksDB stops at the first key beyond the key-group without looking at them.
 *
 * <p>Owns its read options, bound and iterator; {@link #close()} frees all three.
 */
final class KeyGroupIterator implements AutoCloseable {

    private final ReadOptions readOptions;
    @Nullable private final Slice upperBound;
    private final RocksIterator iterator;

    /**
     * Opens an iterator over the given column family with a copy of the given read options, bounded
     * by {@code upperBoundKey} unless it is null, and positions it at {@code seekKey}.
     */
    KeyGroupIterator(
            RocksDB db,
            ColumnFamilyHandle columnFamily,
            ReadOptions baseReadOptions,
            @Nullable byte[] upperBoundKey,
            byte[] seekKey) {
        ReadOptions options = new ReadOptions(baseReadOptions);
        Slice bound = null;
        RocksIterator opened = null;
        try {
            if (upperBoundKey != null) {
                bound = new Slice(upperBoundKey);
                options.setIterateUpperBound(bound);
            }
            opened = db.newIterator(columnFamily, options);
            opened.seek(seekKey);
        } catch (RuntimeException | Error e) {
            closeAll(opened, bound, options);
            throw e;
        }
        this.readOptions = options;
        this.upperBound = bound;
        this.iterator = opened;
    }

    RocksIterator iterator() {
        return iterator;
    }

    /**
     * The prefix of the key-group after {@code keyGroupId} in {@code prefixBytes} big-endian bytes,
     * or null if that id does not fit into them (then nothing follows the key-group's keys).
     */
    @Nullable
    static byte[] nextKeyGroupPrefix(int keyGroupId, int prefixBytes) {
        int next = keyGroupId + 1;
        if (next >= 1 << (8 * prefixBytes)) {
            return null;
        }
        byte[] prefix = new byte[prefixBytes];
        CompositeKeySerializationUtils.serializeKeyGroup(next, prefix);
        return prefix;
    }

    @Override
    public void close() {
        closeAll(iterator, upperBound, readOptions);
    }

    /** The iterator first: it reads the bound, which the read options only point to. */
    private static void closeAll(
            @Nullable RocksIterator iterator, @Nullable Slice bound, ReadOptions options) {
        if (iterator != null) {
            iterator.close();
        }
        options.close();
        if (bound != null) {
            bound.close();
        }
    }
}
