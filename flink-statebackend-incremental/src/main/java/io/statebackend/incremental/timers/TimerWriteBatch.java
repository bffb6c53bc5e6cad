package io.statebackend.incremental.timers;

import org.apache.flink.util.FlinkRuntimeException;
import org.apache.flink.util.Preconditions;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The puts and deletes of the timer queues of one backend, written to RocksDB a batch at a time: a
 * timer fires and is re-registered far more often than the queues are read from RocksDB. All queues
 * of a backend share one batch, and everything that reads a queue's column family (a queue
 * refilling its cache, a snapshot) flushes it first.
 *
 * <p>Not thread-safe: the task thread writes and flushes; a snapshot flushes in its synchronous
 * part, on the task thread too.
 */
public final class TimerWriteBatch implements AutoCloseable {

    /** Operations buffered before a write, as Flink's RocksDB backend buffers timers. */
    public static final int DEFAULT_CAPACITY = 500;

    private final RocksDB db;
    private final WriteOptions writeOptions;
    private final int capacity;
    private final WriteBatch batch;

    /** Operations in {@link #batch}, counted here: asking the batch is a call across JNI. */
    private int pending;

    public TimerWriteBatch(RocksDB db, WriteOptions writeOptions, int capacity) {
        Preconditions.checkArgument(capacity > 0, "The capacity must be positive: %s", capacity);
        this.db = Preconditions.checkNotNull(db);
        this.writeOptions = Preconditions.checkNotNull(writeOptions);
        this.capacity = capacity;
        this.batch = new WriteBatch();
    }

    public void put(ColumnFamilyHandle columnFamily, byte[] key, byte[] value)
            throws RocksDBException {
        batch.put(columnFamily, key, value);
        flushIfFull();
    }

    public void delete(ColumnFamilyHandle columnFamily, byte[] key) throws RocksDBException {
        batch.delete(columnFamily, key);
        flushIfFull();
    }

    private void flushIfFull() throws RocksDBException {
        if (++pending >= capacity) {
            flush();
        }
    }

    /** Writes what is buffered, so that readers of the column families see it. */
    public void flush() throws RocksDBException {
        if (pending > 0) {
            db.write(writeOptions, batch);
            batch.clear();
            pending = 0;
        }
    }

    /** {@link #flush()} for callers that cannot handle RocksDB's checked exception. */
    public void flushUnchecked() {
        try {
            flush();
        } catch (RocksDBException e) {
            throw new FlinkRuntimeException("Could not write timers to RocksDB.", e);
        }
    }

    /** Operations buffered and not yet written, for tests. */
    int pending() {
        return pending;
    }

    /** Drops what is buffered: only when the database is closed right after. */
    @Override
    public void close() {
        batch.close();
    }
}
