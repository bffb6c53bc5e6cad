package io.statebackend.incremental.restore;

import org.apache.flink.runtime.state.KeyGroupRange;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;

import java.io.IOException;

/**
 * The entries of one column family in a key-group range, in key order. The iterator is bounded by
 * {@code iterate_upper_bound} at the first key after the range, so that it ends there: without the
 * bound, RocksDB would skip every tombstone after the range before it found the key that ends it,
 * and a snapshot's files hold the tombstones of the entries its job deleted until compaction drops
 * them.
 */
final class KeyGroupRangeIterator implements AutoCloseable {

    private final Slice end;
    private final ReadOptions readOptions;
    private final RocksIterator iterator;

    /** Positioned at the first entry of {@code range}, if there is one. */
    KeyGroupRangeIterator(
            RocksDB db,
            ColumnFamilyHandle columnFamily,
            ReadOptions baseReadOptions,
            KeyGroupPrefixes prefixes,
            KeyGroupRange range) {
        end = new Slice(prefixes.end(range));
        ReadOptions options = null;
        RocksIterator opened = null;
        try {
            options = new ReadOptions(baseReadOptions);
            options.setIterateUpperBound(end);
            opened = db.newIterator(columnFamily, options);
            opened.seek(prefixes.begin(range));
        } catch (RuntimeException | Error e) {
            if (opened != null) {
                opened.close();
            }
            if (options != null) {
                options.close();
            }
            end.close();
            throw e;
        }
        readOptions = options;
        iterator = opened;
    }

    boolean isValid() {
        return iterator.isValid();
    }

    byte[] key() {
        return iterator.key();
    }

    byte[] value() {
        return iterator.value();
    }

    void next() {
        iterator.next();
    }

    /**
     * Throws the error that ended the iteration early, if one did (an unreadable block, say):
     * otherwise the entries after it would be missing without a word.
     *
     * @param what what was read, for the message
     */
    void checkEnded(String what) throws IOException {
        try {
            iterator.status();
        } catch (RocksDBException e) {
            throw new IOException("Could not read " + what + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        iterator.close();
        readOptions.close();
        end.close();
    }
}
