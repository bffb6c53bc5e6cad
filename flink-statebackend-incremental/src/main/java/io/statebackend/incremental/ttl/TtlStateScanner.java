package io.statebackend.incremental.ttl;

import io.statebackend.incremental.state.AbstractRocksDBState;

import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.ListSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.runtime.state.ttl.TtlUtils;
import org.apache.flink.runtime.state.ttl.TtlValue;
import org.apache.flink.util.FlinkRuntimeException;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

import javax.annotation.Nullable;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The cursor of one TTL state's background cleanup: each {@link #scan} reads the next entries of
 * the state's column family in key order and deletes the expired ones, in one call on the task
 * thread.
 *
 * <p>Expiry is read from the bytes: the last-access timestamp leads every TTL value (after the null
 * flag of map values), so only its first bytes are copied out of RocksDB and no entry allocates;
 * lists are split with the element serializer, and only their expired elements dropped. A run of at
 * least {@value #RANGE_DELETE_MIN_RUN} expired entries in a row is deleted with one range tombstone
 * from its first key to just after its last: the scan read every key in between on an iterator
 * opened in the same call, on the thread that owns every write, so the range covers exactly the
 * expired entries read. Shorter runs get point deletes, so that live keys are not interleaved with
 * many small ranges that reads would have to check.
 */
final class TtlStateScanner {

    /** Expired entries in a row from which one range tombstone replaces the point deletes. */
    static final int RANGE_DELETE_MIN_RUN = 8;

    private final RocksDB db;
    private final ReadOptions readOptions;
    private final AbstractRocksDBState<?, ?, ?> state;
    private final ColumnFamilyHandle columnFamily;
    private final StateDescriptor.Type type;
    private final long ttl;
    private final long queryTimeAfterNumEntries;
    private final TtlTimeProvider timeProvider;

    private final byte[] valueHead = new byte[1 + Long.BYTES];
    private final DataInputDeserializer listInput = new DataInputDeserializer();
    private final DataOutputSerializer listOutput = new DataOutputSerializer(128);

    /** The key of the entry being read, and of the one read before it; swapped per entry. */
    private byte[] key = new byte[64];

    private int keyLength;
    private byte[] previousKey = new byte[64];
    private int previousKeyLength;

    /** Keys of the current run of expired entries while it is too short for a range delete. */
    private final List<byte[]> pendingDeletes = new ArrayList<>(RANGE_DELETE_MIN_RUN);

    /** First key of the current run once it is long enough for a range delete. */
    @Nullable private byte[] runStart;

    private int runLength;

    /** Last key of the previous scan; null to start at the first key. */
    @Nullable private byte[] lastKey;

    private boolean foundInPass;
    private boolean endedEmptyPass;

    TtlStateScanner(
            RocksDB db,
            ReadOptions readOptions,
            AbstractRocksDBState<?, ?, ?> state,
            StateDescriptor.Type type,
            long ttl,
            long queryTimeAfterNumEntries,
            TtlTimeProvider timeProvider,
            @Nullable byte[] lastKey) {
        this.db = db;
        this.readOptions = readOptions;
        this.state = state;
        this.columnFamily = state.getColumnFamilyHandle();
        this.type = type;
        this.ttl = ttl;
        this.queryTimeAfterNumEntries = Math.max(1, queryTimeAfterNumEntries);
        this.timeProvider = timeProvider;
        this.lastKey = lastKey;
    }

    String getStateName() {
        return state.getStateName();
    }

    @Nullable
    byte[] getLastKey() {
        return lastKey;
    }

    /** Whether the last scan reached the end of the state after a pass that found nothing. */
    boolean endedEmptyPass() {
        return endedEmptyPass;
    }

    /**
     * Reads at most {@code maxEntries} entries after the last scan's and deletes or trims the
     * expired ones; returns how many entries it deleted or trimmed.
     */
    int scan(int maxEntries, WriteOptions writeOptions) {
        int cleaned = 0;
        try (RocksIterator iterator = db.newIterator(columnFamily, readOptions);
                WriteBatch batch = new WriteBatch()) {
            previousKeyLength = -1;
            if (lastKey == null) {
                iterator.seekToFirst();
            } else {
                iterator.seek(lastKey);
                if (iterator.isValid() && Arrays.equals(iterator.key(), lastKey)) {
                    iterator.next();
                }
            }
            long now = timeProvider.currentTimestamp();
            int read = 0;
            while (read < maxEntries && iterator.isValid()) {
                if (read > 0 && read % queryTimeAfterNumEntries == 0) {
                    now = timeProvider.currentTimestamp();
                }
                readKey(iterator);
                if (type == StateDescriptor.Type.LIST) {
                    byte[] value = iterator.value();
                    byte[] kept = unexpiredElements(value, now);
                    if (kept == null) {
                        extendRun();
                        cleaned++;
                    } else {
                        endRun(batch);
                        if (kept != value) {
                            batch.put(columnFamily, Arrays.copyOf(key, keyLength), kept);
                            cleaned++;
                        }
                    }
                } else if (expired(iterator.value(valueHead), now)) {
                    extendRun();
                    cleaned++;
                } else {
                    endRun(batch);
                }
                swapKeys();
                read++;
                iterator.next();
            }
            iterator.status();
            endRun(batch);
            foundInPass |= cleaned > 0;
            endedEmptyPass = false;
            if (iterator.isValid()) {
                lastKey = previousKeyLength < 0 ? lastKey : copyOfPreviousKey();
            } else {
                lastKey = null;
                endedEmptyPass = !foundInPass;
                foundInPass = false;
            }
            if (batch.count() > 0) {
                db.write(writeOptions, batch);
            }
        } catch (RocksDBException | IOException e) {
            throw new FlinkRuntimeException(
                    "Could not clean up expired entries of state '" + state.getStateName() + "'",
                    e);
        }
        return cleaned;
    }

    private void readKey(RocksIterator iterator) {
        keyLength = iterator.key(key);
        if (keyLength > key.length) {
            key = new byte[Math.max(keyLength, 2 * key.length)];
            iterator.key(key);
        }
    }

    private void swapKeys() {
        byte[] swapped = previousKey;
        previousKey = key;
        previousKeyLength = keyLength;
        key = swapped;
    }

    private byte[] copyOfPreviousKey() {
        return Arrays.copyOf(previousKey, previousKeyLength);
    }

    /** Adds the entry just read (in {@link #key}) to the current run of expired entries. */
    private void extendRun() {
        runLength++;
        if (runLength < RANGE_DELETE_MIN_RUN) {
            pendingDeletes.add(Arrays.copyOf(key, keyLength));
        } else if (runLength == RANGE_DELETE_MIN_RUN) {
            runStart = pendingDeletes.get(0);
            pendingDeletes.clear();
        }
    }

    /**
     * Deletes the current run, whose last entry is the one read before the current entry (in {@link
     * #previousKey}).
     */
    private void endRun(WriteBatch batch) throws RocksDBException {
        if (runLength >= RANGE_DELETE_MIN_RUN) {
            // the end is exclusive: the last key followed by a zero byte is the first key after it
            batch.deleteRange(
                    columnFamily, runStart, Arrays.copyOf(previousKey, previousKeyLength + 1));
        } else {
            for (byte[] pending : pendingDeletes) {
                batch.delete(columnFamily, pending);
            }
        }
        pendingDeletes.clear();
        runStart = null;
        runLength = 0;
    }

    /** Whether a value whose first bytes are in {@link #valueHead} is expired. */
    private boolean expired(int valueLength, long now) {
        int offset = type == StateDescriptor.Type.MAP ? 1 : 0;
        if (valueLength < offset + Long.BYTES
                || (type == StateDescriptor.Type.MAP && valueHead[0] != 0)) {
            return false;
        }
        return TtlUtils.expired(readLong(valueHead, offset), ttl, now);
    }

    /** The list without its expired elements: the same array if none expired, null if all did. */
    @Nullable
    @SuppressWarnings("unchecked")
    private byte[] unexpiredElements(byte[] value, long now) throws IOException {
        TypeSerializer<TtlValue<?>> elementSerializer =
                ((ListSerializer<TtlValue<?>>) state.getValueSerializer()).getElementSerializer();
        listInput.setBuffer(value);
        listOutput.clear();
        boolean anyExpired = false;
        boolean anyKept = false;
        while (listInput.available() > 0) {
            int start = listInput.getPosition();
            TtlValue<?> element = elementSerializer.deserialize(listInput);
            int end = listInput.getPosition();
            if (listInput.available() > 0) {
                // the delimiter
                listInput.readByte();
            }
            if (element != null && TtlUtils.expired(element.getLastAccessTimestamp(), ttl, now)) {
                anyExpired = true;
                continue;
            }
            if (anyKept) {
                listOutput.write(',');
            }
            listOutput.write(value, start, end - start);
            anyKept = true;
        }
        if (!anyExpired) {
            return value;
        }
        return anyKept ? listOutput.getCopyOfBuffer() : null;
    }

    private static long readLong(byte[] bytes, int offset) {
        long result = 0;
        for (int i = 0; i < Long.BYTES; i++) {
            result = (result << 8) | (bytes[offset + i] & 0xFF);
        }
        return result;
    }
}
