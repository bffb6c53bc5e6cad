package io.statebackend.incremental.ttl;

import io.statebackend.incremental.state.AbstractRocksDBState;

import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.ListSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.runtime.state.ttl.TtlUtils;
import org.apache.flink.runtime.state.ttl.TtlValue;
import org.apache.flink.util.FlinkRuntimeException;
import org.apache.flink.util.Preconditions;

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
 * TTL's background cleanup without a compaction filter: a bounded slice of every TTL state's column
 * family is scanned on the task thread between records, and expired entries in it are deleted.
 *
 * <p>Every few records (calls of {@link #onRecord()}, made when the backend switches to a record's
 * key) one state, in turn, gets a slice: an iterator is opened on the current database, seeks after
 * the last key of that state's previous slice, reads at most {@value #ENTRIES_PER_SLICE} entries,
 * deletes the expired ones (and trims expired elements of lists) in one write batch, and is closed.
 * Read and delete happen in one call on the thread that owns every write, so an entry rewritten by
 * the task is never deleted: it was either rewritten before the slice read it (then it is not
 * expired) or after the slice deleted it. After the last key of a state the next slice starts at
 * its first key, so every entry is reached, also those never read again. The cost per record is
 * bounded by one seek per slice and a few entries read, whose expiry is checked on the bytes (the
 * last-access timestamp leads every TTL value).
 *
 * <p>The pace adapts to what the slices find: a slice that finds an expired entry brings the next
 * one {@value #MIN_RECORDS_PER_SLICE} records later; a whole pass over a state (a lap) that finds
 * none sets the distance to {@value #MAX_RECORDS_PER_SLICE} records. Judging by laps, not single
 * slices, matters because expired and live keys lie in separate runs of the key order (keys are
 * ordered by key group first): a live run must not slow down the expired run after it. So a wave of
 * expiring keys is cleaned at full pace while a state with nothing to clean costs a slice per
 * thousand records, and every key is still reached. Slices read with {@code fill_cache} off, so the
 * scan does not evict the task's blocks.
 */
public final class TtlBackgroundCleanup {

    /** Records between two slices while slices find expired entries. */
    public static final int MIN_RECORDS_PER_SLICE = 32;

    /** Records between two slices at most, while slices find nothing to clean. */
    public static final int MAX_RECORDS_PER_SLICE = 1024;

    /** RocksDB entries read by one slice at most. */
    public static final int ENTRIES_PER_SLICE = 64;

    private final RocksDB db;
    private final ReadOptions readOptions;
    private final WriteOptions writeOptions;
    private final TtlTimeProvider timeProvider;
    private final boolean enabled;

    private final List<StateCleaner> cleaners = new ArrayList<>();
    private int recordsSinceSlice;
    private int recordsPerSlice = MIN_RECORDS_PER_SLICE;
    private int nextCleaner;

    public TtlBackgroundCleanup(
            RocksDB db,
            ReadOptions readOptions,
            WriteOptions writeOptions,
            TtlTimeProvider timeProvider,
            boolean enabled) {
        this.db = Preconditions.checkNotNull(db, "RocksDB must not be null");
        Preconditions.checkNotNull(readOptions, "Read options are missing");
        this.readOptions = new ReadOptions(readOptions).setFillCache(false);
        this.writeOptions = Preconditions.checkNotNull(writeOptions, "Write options are missing");
        this.timeProvider = Preconditions.checkNotNull(timeProvider, "Time provider is missing");
        this.enabled = enabled;
    }

    /** Starts or stops cleaning a state after it was (re-)registered, following its TTL config. */
    public void register(AbstractRocksDBState<?, ?, ?> state, StateDescriptor.Type type) {
        StateCleaner existing = null;
        for (StateCleaner cleaner : cleaners) {
            if (cleaner.state.getStateName().equals(state.getStateName())) {
                existing = cleaner;
            }
        }
        StateTtlConfig config = state.getTtlConfig();
        if (existing != null) {
            cleaners.remove(existing);
        }
        if (enabled && TtlCleanupStrategies.inBackground(config)) {
            StateTtlConfig.RocksdbCompactFilterCleanupStrategy strategy =
                    config.getCleanupStrategies().getRocksdbCompactFilterCleanupStrategy();
            cleaners.add(
                    new StateCleaner(
                            state,
                            type,
                            config.getTimeToLive().toMillis(),
                            strategy.getQueryTimeAfterNumEntries(),
                            existing == null ? null : existing.lastKey));
        }
        nextCleaner = 0;
    }

    /** Called by the task thread once per record; runs a slice every few records. */
    public void onRecord() {
        if (cleaners.isEmpty() || ++recordsSinceSlice < recordsPerSlice) {
            return;
        }
        recordsSinceSlice = 0;
        if (nextCleaner >= cleaners.size()) {
            nextCleaner = 0;
        }
        StateCleaner cleaner = cleaners.get(nextCleaner++);
        if (cleaner.scan(ENTRIES_PER_SLICE) > 0) {
            recordsPerSlice = MIN_RECORDS_PER_SLICE;
        } else if (cleaner.endedEmptyLap) {
            recordsPerSlice = MAX_RECORDS_PER_SLICE;
        }
    }

    /** Whether any state is cleaned in the background. */
    public boolean isActive() {
        return !cleaners.isEmpty();
    }

    /** Records that pass before the next slice now, for tests. */
    int getRecordsPerSlice() {
        return recordsPerSlice;
    }

    /** Forgets all states; the backend calls it before it closes the database. */
    public void clear() {
        cleaners.clear();
        readOptions.close();
    }

    /** The cursor and expiry check of one state. */
    private final class StateCleaner {
        private final AbstractRocksDBState<?, ?, ?> state;
        private final StateDescriptor.Type type;
        private final long ttl;
        private final long queryTimeAfterNumEntries;
        private final DataInputDeserializer input = new DataInputDeserializer();
        private final DataOutputSerializer output = new DataOutputSerializer(128);

        /** Last key of the previous slice; null to start at the first key. */
        @Nullable private byte[] lastKey;

        /** Whether a slice of the current lap deleted or trimmed anything. */
        private boolean foundInLap;

        /** Whether the last slice ended a lap in which nothing was found. */
        private boolean endedEmptyLap;

        StateCleaner(
                AbstractRocksDBState<?, ?, ?> state,
                StateDescriptor.Type type,
                long ttl,
                long queryTimeAfterNumEntries,
                @Nullable byte[] lastKey) {
            this.state = state;
            this.type = type;
            this.ttl = ttl;
            this.queryTimeAfterNumEntries = Math.max(1, queryTimeAfterNumEntries);
            this.lastKey = lastKey;
        }

        int scan(int maxEntries) {
            int deleted = 0;
            try (RocksIterator iterator =
                            db.newIterator(state.getColumnFamilyHandle(), readOptions);
                    WriteBatch batch = new WriteBatch()) {
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
                    byte[] key = iterator.key();
                    byte[] value = iterator.value();
                    if (type == StateDescriptor.Type.LIST) {
                        byte[] kept = unexpiredElements(value, now);
                        if (kept == null) {
                            batch.delete(state.getColumnFamilyHandle(), key);
                            deleted++;
                        } else if (kept != value) {
                            batch.put(state.getColumnFamilyHandle(), key, kept);
                            deleted++;
                        }
                    } else if (expired(value, now)) {
                        batch.delete(state.getColumnFamilyHandle(), key);
                        deleted++;
                    }
                    lastKey = key;
                    read++;
                    iterator.next();
                }
                iterator.status();
                foundInLap |= deleted > 0;
                endedEmptyLap = false;
                if (!iterator.isValid()) {
                    lastKey = null;
                    endedEmptyLap = !foundInLap;
                    foundInLap = false;
                }
                if (batch.count() > 0) {
                    db.write(writeOptions, batch);
                }
            } catch (RocksDBException | IOException e) {
                throw new FlinkRuntimeException(
                        "Could not clean up expired entries of state '"
                                + state.getStateName()
                                + "'",
                        e);
            }
            return deleted;
        }

        /** Values start with the last-access timestamp; map values with a null flag before it. */
        private boolean expired(byte[] value, long now) {
            int offset = type == StateDescriptor.Type.MAP ? 1 : 0;
            if (value.length < offset + Long.BYTES
                    || (type == StateDescriptor.Type.MAP && value[0] != 0)) {
                return false;
            }
            return TtlUtils.expired(readLong(value, offset), ttl, now);
        }

        /**
         * The list without its expired elements: the same array if none expired, null if all did.
         */
        @Nullable
        @SuppressWarnings("unchecked")
        private byte[] unexpiredElements(byte[] value, long now) throws IOException {
            TypeSerializer<TtlValue<?>> elementSerializer =
                    ((ListSerializer<TtlValue<?>>) state.getValueSerializer())
                            .getElementSerializer();
            input.setBuffer(value);
            output.clear();
            boolean anyExpired = false;
            boolean anyKept = false;
            while (input.available() > 0) {
                int start = input.getPosition();
                TtlValue<?> element = elementSerializer.deserialize(input);
                int end = input.getPosition();
                if (input.available() > 0) {
                    // the delimiter
                    input.readByte();
                }
                if (element != null
                        && TtlUtils.expired(element.getLastAccessTimestamp(), ttl, now)) {
                    anyExpired = true;
                    continue;
                }
                if (anyKept) {
                    output.write(',');
                }
                output.write(value, start, end - start);
                anyKept = true;
            }
            if (!anyExpired) {
                return value;
            }
            return anyKept ? output.getCopyOfBuffer() : null;
        }
    }

    private static long readLong(byte[] bytes, int offset) {
        long result = 0;
        for (int i = 0; i < Long.BYTES; i++) {
            result = (result << 8) | (bytes[offset + i] & 0xFF);
        }
        return result;
    }
}
