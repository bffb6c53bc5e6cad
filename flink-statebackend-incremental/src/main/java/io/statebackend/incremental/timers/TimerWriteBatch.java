package io.statebackend.incremental.timers;

import org.apache.flink.util.FlinkRuntimeException;
import org.apache.flink.util.Preconditions;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

import javax.annotation.Nullable;

import java.util.Arrays;
import java.util.Comparator;

/**
 * The puts and deletes of the timer queues of one backend, written to RocksDB a batch at a time: a
 * timer fires and is re-registered far more often than the queues are read from RocksDB. All queues
 * of a backend share one batch, and everything that reads a queue's column family (a queue
 * refilling its cache, a snapshot) flushes it first.
 *
 * <p>The operations are buffered here and written in key order, not in the order they came: a
 * memtable insert is cheapest right after the previous one (RocksDB's skip list keeps where the
 * last insert went), and a timer that fires is deleted at the head of its key group while its
 * successor is put at the tail, so in arrival order every insert would search the skip list anew.
 * Operations on different keys commute; those on one key keep their order (a stable sort), so the
 * batch has the effect it had in arrival order. Nobody reads the column families between the
 * operations of one batch.
 *
 * <p>Not thread-safe: the task thread writes and flushes; a snapshot flushes in its synchronous
 * part, on the task thread too.
 */
public final class TimerWriteBatch implements AutoCloseable {

    /** Operations buffered before a write, as Flink's RocksDB backend buffers timers. */
    public static final int DEFAULT_CAPACITY = 500;

    /** Orders operations by key, as RocksDB's default bytewise comparator does. */
    private static final Comparator<Operation> BY_KEY =
            (a, b) -> Arrays.compareUnsigned(a.key, b.key);

    private final RocksDB db;
    private final WriteOptions writeOptions;
    private final WriteBatch batch;

    /**
     * Buffered operations, in arrival order or, after a failed write, sorted by key with later ones
     * behind them; the slots are reused by every batch.
     */
    private final Operation[] operations;

    /** Operations in {@link #operations}. */
    private int pending;

    public TimerWriteBatch(RocksDB db, WriteOptions writeOptions, int capacity) {
        Preconditions.checkArgument(capacity > 0, "The capacity must be positive: %s", capacity);
        this.db = Preconditions.checkNotNull(db);
        this.writeOptions = Preconditions.checkNotNull(writeOptions);
        this.operations = new Operation[capacity];
        for (int i = 0; i < capacity; i++) {
            operations[i] = new Operation();
        }
        this.batch = new WriteBatch();
    }

    public void put(ColumnFamilyHandle columnFamily, byte[] key, byte[] value)
            throws RocksDBException {
        // a null value marks a delete in the buffer
        buffer(columnFamily, key, Preconditions.checkNotNull(value, "A timer value is missing"));
    }

    public void delete(ColumnFamilyHandle columnFamily, byte[] key) throws RocksDBException {
        buffer(columnFamily, key, null);
    }

    private void buffer(ColumnFamilyHandle columnFamily, byte[] key, @Nullable byte[] value)
            throws RocksDBException {
        if (pending == operations.length) {
            // the last flush failed; what it could not write stays buffered
            flush();
        }
        Operation operation = operations[pending];
        operation.columnFamily = Preconditions.checkNotNull(columnFamily);
        operation.key = Preconditions.checkNotNull(key);
        operation.value = value;
        if (++pending == operations.length) {
            flush();
        }
    }

    /** Writes what is buffered, so that readers of the column families see it. */
    public void flush() throws RocksDBException {
        if (pending == 0) {
            return;
        }
        // stable, so operations on one key keep their order, also across a failed write
        Arrays.sort(operations, 0, pending, BY_KEY);
        try {
            for (int i = 0; i < pending; i++) {
                Operation operation = operations[i];
                if (operation.value == null) {
                    batch.delete(operation.columnFamily, operation.key);
                } else {
                    batch.put(operation.columnFamily, operation.key, operation.value);
                }
            }
            db.write(writeOptions, batch);
        } finally {
            // after a failure the operations stay buffered for the next flush
            batch.clear();
        }
        for (int i = 0; i < pending; i++) {
            operations[i].clear();
        }
        pending = 0;
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

    /** One buffered put or delete. */
    private static final class Operation {
        @Nullable ColumnFamilyHandle columnFamily;
        @Nullable byte[] key;

        /** The value of a put; null for a delete. */
        @Nullable byte[] value;

        void clear() {
            columnFamily = null;
            key = null;
            value = null;
        }
    }

    /** Drops what is buffered: only when the database is closed right after. */
    @Override
    public void close() {
        batch.close();
    }
}
