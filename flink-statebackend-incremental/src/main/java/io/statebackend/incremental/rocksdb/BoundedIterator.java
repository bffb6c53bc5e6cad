package io.statebackend.incremental.rocksdb;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;

import javax.annotation.Nullable;

import java.io.IOException;

/**
 * A RocksDB iterator that ends before a given key: its read options carry the key as {@code
 * iterate_upper_bound}. Without the bound, an iterator that passes the last key it wants steps on
 * into the keys after it and skips every tombstone it finds there before it reports the next live
 * key: the timers already polled from the next key group, or the entries a job deleted from the key
 * groups after a restored range. With the bound RocksDB stops at the first key beyond it without
 * looking at them.
 *
 * <p>Owns its read options, bound and iterator; {@link #close()} frees all three.
 */
public final class BoundedIterator implements AutoCloseable {

    private final ReadOptions readOptions;
    @Nullable private final Slice upperBound;
    private final RocksIterator iterator;

    /**
     * Opens an iterator over the given column family with a copy of the given read options, bounded
     * by {@code upperBoundKey} unless it is null, and positions it at {@code seekKey}.
     */
    public BoundedIterator(
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

    public RocksIterator iterator() {
        return iterator;
    }

    /**
     * Throws the error that ended the iteration early, if one did (an unreadable block, say): an
     * iterator that meets one becomes invalid as at the end of its keys, and the entries after it
     * would be missing without a word.
     *
     * @param what what was read, for the message
     */
    public void checkEnded(String what) throws IOException {
        try {
            iterator.status();
        } catch (RocksDBException e) {
            throw new IOException("Could not read " + what + ": " + e.getMessage(), e);
        }
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
