package io.statebackend.incremental.state;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.KeyMayExist;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

import java.nio.ByteBuffer;

/**
 * Point lookups of one state's column family, on the task thread.
 *
 * <p>RocksJava's get methods report an absent key by throwing and catching a C++ exception inside
 * JNI, which costs about as much again as the lookup itself (on this project's machine 4.5 to 5.5
 * µs for an absent key against 2.4 to 3.3 µs for a present one, with the data in the block cache).
 * {@code keyMayExist} with a value buffer has no such cost: it looks only at the memtables and the
 * block cache and answers "absent", "present, with its value" or, when a block it needs is not
 * cached, "cannot tell". It is a little slower than get for a present key (about 10%), so a state
 * asks it first only while its recent lookups often missed (more than one in eight); a "cannot
 * tell" answer is followed by a get.
 *
 * <p>A cache-only lookup performs no I/O, so the only failure it could turn into "absent" is a
 * merge that fails in memory; the list state's merge operator only concatenates.
 *
 * <p>An empty value is never taken from {@code keyMayExist}: when the index block of a file it must
 * look into is not in the block cache, RocksDB stops with "incomplete" before it can clear its
 * "value found" flag, so RocksJava reports the key present with an empty value, whether it exists
 * or not. Indexes live in the block cache under Flink's managed memory and are evicted like data,
 * so this happens; an empty value is therefore confirmed by a get (real empty values are rare: no
 * serializer of keyed state writes zero bytes for a value it stores).
 */
final class PointReader {

    /** Fixed-point scale of {@link #missRate}. */
    private static final int SCALE = 1 << 10;

    /** The miss rate above which lookups ask the memtables and the block cache first. */
    private static final int CACHE_FIRST_ABOVE = SCALE / 8;

    /** Values larger than this are read by get only, never through a direct buffer. */
    private static final int MAX_DIRECT_VALUE = 1 << 20;

    private final RocksDB db;
    private final ColumnFamilyHandle columnFamily;
    private final ReadOptions readOptions;

    /** Moving average of the share of lookups that found no value, in 1/{@link #SCALE}. */
    private int missRate;

    private ByteBuffer directKey = ByteBuffer.allocateDirect(0);
    private ByteBuffer directValue = ByteBuffer.allocateDirect(0);

    PointReader(RocksDB db, ColumnFamilyHandle columnFamily, ReadOptions readOptions) {
        this.db = db;
        this.columnFamily = columnFamily;
        this.readOptions = readOptions;
    }

    /**
     * Copies as much of the value of the key in the first {@code keyLength} bytes of {@code key} as
     * fits into {@code target}; returns the value's whole length, or {@link RocksDB#NOT_FOUND}.
     */
    int read(byte[] key, int keyLength, byte[] target) throws RocksDBException {
        final int length =
                isCacheFirst() && target.length <= MAX_DIRECT_VALUE
                        ? readCacheFirst(key, keyLength, target)
                        : get(key, keyLength, target);
        if (length == RocksDB.NOT_FOUND) {
            missRate += (SCALE - missRate) >> 4;
        } else {
            missRate -= missRate >> 4;
        }
        return length;
    }

    /** Whether lookups currently ask the memtables and the block cache first. */
    boolean isCacheFirst() {
        return missRate > CACHE_FIRST_ABOVE;
    }

    private int readCacheFirst(byte[] key, int keyLength, byte[] target) throws RocksDBException {
        if (directKey.capacity() < keyLength) {
            directKey = ByteBuffer.allocateDirect(Math.max(keyLength, 2 * directKey.capacity()));
        }
        if (directValue.capacity() < target.length) {
            directValue = ByteBuffer.allocateDirect(target.length);
        }
        // RocksJava's native side reads the key from the buffer's start, whatever its position
        directKey.clear();
        directKey.put(key, 0, keyLength).flip();
        directValue.clear().limit(target.length);
        final KeyMayExist answer =
                db.keyMayExist(columnFamily, readOptions, directKey, directValue);
        switch (answer.exists) {
            case kNotExist:
                return RocksDB.NOT_FOUND;
            case kExistsWithValue:
                if (answer.valueLength == 0) {
                    // also RocksDB's answer when a file's index block is not cached: confirm
                    return get(key, keyLength, target);
                }
                directValue.get(target, 0, Math.min(answer.valueLength, target.length));
                return answer.valueLength;
            default:
                return get(key, keyLength, target);
        }
    }

    private int get(byte[] key, int keyLength, byte[] target) throws RocksDBException {
        return db.get(columnFamily, readOptions, key, 0, keyLength, target, 0, target.length);
    }
}
