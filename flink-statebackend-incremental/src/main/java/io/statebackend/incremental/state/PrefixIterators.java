package io.statebackend.incremental.state;

import org.apache.flink.util.Preconditions;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.DirectSlice;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksIterator;

import javax.annotation.Nullable;

import java.nio.ByteBuffer;

/**
 * Opens RocksDB iterators over the keys that start with a prefix (the entries of one map), bounded
 * by {@code iterate_upper_bound} so that they end where the prefix ends. Without the bound, an
 * iterator that passes the last entry steps into the next key's entries and, before it reports one,
 * skips every tombstone it finds there: a map cleared or drained after use leaves as many
 * tombstones as it had entries, until compaction drops them.
 *
 * <p>One set of read options and one native bound serve every iterator, so that opening one costs
 * no native allocation: the bound is a slice over a direct buffer whose bytes are rewritten for
 * each iterator. An iterator reads the bound while it is open, so only one may be open at a time;
 * the states open one, read a batch and close it before anything else runs. Task thread only.
 */
public final class PrefixIterators implements AutoCloseable {

    private static final int INITIAL_BOUND_CAPACITY = 64;

    private final RocksDB db;
    private final ReadOptions unbounded;
    private final ReadOptions bounded;
    private ByteBuffer boundBytes;
    private DirectSlice bound;

    /** The bound's length as RocksDB knows it; set again only when it changes (a JNI call). */
    private int sliceLength;

    /** The last iterator opened with the bound, to check that it was closed before the next. */
    @Nullable private RocksIterator lastBounded;

    private boolean closed;

    /** Reads with copies of {@code baseReadOptions}; they are not needed after construction. */
    public PrefixIterators(RocksDB db, ReadOptions baseReadOptions) {
        this.db = db;
        this.unbounded = baseReadOptions;
        this.bounded = new ReadOptions(baseReadOptions);
        try {
            setBound(ByteBuffer.allocateDirect(INITIAL_BOUND_CAPACITY));
        } catch (RuntimeException | Error e) {
            bounded.close();
            throw e;
        }
    }

    /**
     * An iterator, not yet positioned, that ends before the first key not starting with {@code
     * prefix}. The caller closes it before it opens the next one.
     */
    public RocksIterator open(ColumnFamilyHandle columnFamily, byte[] prefix) {
        Preconditions.checkState(!closed, "The state backend has been disposed.");
        Preconditions.checkState(
                lastBounded == null || !lastBounded.isOwningHandle(),
                "An iterator over a prefix is still open; its bound would change under it.");
        int boundLength = successorLength(prefix);
        if (boundLength == 0) {
            // only 0xFF bytes: no key above the prefix's keys, nothing to bound
            return db.newIterator(columnFamily, unbounded);
        }
        if (boundLength > boundBytes.capacity()) {
            grow(boundLength);
        }
        boundBytes.clear();
        boundBytes.put(prefix, 0, boundLength - 1).put((byte) (prefix[boundLength - 1] + 1));
        if (boundLength != sliceLength) {
            bound.setLength(boundLength);
            sliceLength = boundLength;
        }
        lastBounded = db.newIterator(columnFamily, bounded);
        return lastBounded;
    }

    /**
     * The length of the smallest key greater than every key starting with {@code prefix}: the
     * prefix up to its last byte below 0xFF, that byte incremented. 0 if there is none.
     */
    static int successorLength(byte[] prefix) {
        int length = prefix.length;
        while (length > 0 && prefix[length - 1] == (byte) 0xFF) {
            length--;
        }
        return length;
    }

    private void grow(int minCapacity) {
        DirectSlice previous = bound;
        setBound(ByteBuffer.allocateDirect(Math.max(minCapacity, 2 * boundBytes.capacity())));
        previous.close();
    }

    /** Makes a slice over {@code bytes} the bound of {@link #bounded}; closes it if that fails. */
    private void setBound(ByteBuffer bytes) {
        DirectSlice slice = new DirectSlice(bytes, 0);
        try {
            bounded.setIterateUpperBound(slice);
        } catch (RuntimeException | Error e) {
            slice.close();
            throw e;
        }
        bound = slice;
        sliceLength = 0;
        boundBytes = bytes;
    }

    /** Frees the read options and the bound; open iterators must be closed before. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        bounded.close();
        bound.close();
    }
}
