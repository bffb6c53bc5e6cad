package io.statebackend.incremental.ttl;

import io.statebackend.incremental.state.AbstractRocksDBState;
import io.statebackend.incremental.state.RocksDBStateContext;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.runtime.state.StateEntry;
import org.apache.flink.runtime.state.internal.InternalKvState.StateIncrementalVisitor;
import org.apache.flink.util.FlinkRuntimeException;
import org.apache.flink.util.Preconditions;

import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

import javax.annotation.Nullable;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.List;

/**
 * Walks all entries of one state in key order, a few state entries per call, for TTL's incremental
 * cleanup; it is what the heap backend's state tables offer, over a column family.
 *
 * <p>No native object lives between calls. A call that finds no entries left from the last read
 * opens an iterator on the current database, seeks just after the last key read, reads ahead up to
 * {@link #READ_AHEAD_STATE_ENTRIES} state entries (or {@link #READ_AHEAD_RAW_ENTRIES} RocksDB
 * entries) and closes it; the following calls hand out what was read, so an iterator and a seek are
 * paid once per many calls instead of on every state access. It pins no files or memtables, and a
 * visitor that is dropped without notice (the runtime creates one only to probe for support) leaks
 * nothing. After the last key it starts again from the first; it reports no more entries only once
 * a whole read from the first key found the state empty.
 *
 * <p>Entries read ahead may be stale when they are handed out: the task may have written or cleared
 * them since. So {@link #remove} and {@link #update}, which run on the task thread like the state's
 * own writes, first read the entry's RocksDB entries again and leave the state entry alone unless
 * every one still holds the bytes that were read; RocksDB has no compare-and-delete, but the task
 * thread owns every write to the state, so nothing changes between that check and the write. An
 * entry written meanwhile is seen on the next lap.
 *
 * <p>One {@link StateEntry} is one key and namespace, as in the heap backend; for map state that is
 * every user key of the pair (at most {@link #MAX_RAW_ENTRIES_PER_STATE_ENTRY}; a larger map comes
 * in several entries). Removal and update touch only the RocksDB entries the state entry was read
 * from, so a user key added meanwhile is never deleted.
 */
public final class RocksDBStateIncrementalVisitor<K, N, V>
        implements StateIncrementalVisitor<K, N, V> {

    /** Bounds the memory of one state entry of a very large map. */
    static final int MAX_RAW_ENTRIES_PER_STATE_ENTRY = 1024;

    /** State entries read by one iterator, unless a call asks for more. */
    static final int READ_AHEAD_STATE_ENTRIES = 64;

    /**
     * Bounds the memory of the entries read ahead; a read stops after the entry that crosses it.
     */
    static final int READ_AHEAD_RAW_ENTRIES = 1024;

    private final AbstractRocksDBState<K, N, V> state;
    private final RocksDBStateContext<K> context;
    private final int maxEntriesPerCall;
    private final int readAheadStateEntries;
    private final DataInputDeserializer keyInput = new DataInputDeserializer();

    /** Entries read but not handed out yet, in key order. */
    private final ArrayDeque<RawStateEntry> readAhead = new ArrayDeque<>();

    /** The last RocksDB key returned; null to start at the first key. */
    @Nullable private byte[] lastKey;

    private boolean empty;

    public RocksDBStateIncrementalVisitor(
            AbstractRocksDBState<K, N, V> state, int recommendedMaxNumberOfReturnedRecords) {
        Preconditions.checkArgument(
                recommendedMaxNumberOfReturnedRecords > 0,
                "The number of entries per call must be positive, not %s.",
                recommendedMaxNumberOfReturnedRecords);
        this.state = state;
        this.context = state.getContext();
        this.maxEntriesPerCall = recommendedMaxNumberOfReturnedRecords;
        this.readAheadStateEntries =
                Math.max(READ_AHEAD_STATE_ENTRIES, recommendedMaxNumberOfReturnedRecords);
    }

    @Override
    public boolean hasNext() {
        return !empty;
    }

    @Override
    public Collection<StateEntry<K, N, V>> nextEntries() {
        if (empty) {
            return Collections.emptyList();
        }
        if (readAhead.isEmpty()) {
            boolean fromFirst = lastKey == null;
            readAhead();
            if (readAhead.isEmpty() && !fromFirst) {
                // the last read ended at the end of the state: wrap around
                readAhead();
                fromFirst = true;
            }
            if (readAhead.isEmpty() && fromFirst) {
                empty = true;
                return Collections.emptyList();
            }
        }
        List<StateEntry<K, N, V>> entries =
                new ArrayList<>(Math.min(maxEntriesPerCall, readAhead.size()));
        while (entries.size() < maxEntriesPerCall && !readAhead.isEmpty()) {
            entries.add(readAhead.poll());
        }
        return entries;
    }

    private void readAhead() {
        try (RocksIterator iterator =
                context.getDb()
                        .newIterator(state.getColumnFamilyHandle(), context.getReadOptions())) {
            if (lastKey == null) {
                iterator.seekToFirst();
            } else {
                iterator.seek(lastKey);
                if (iterator.isValid() && Arrays.equals(iterator.key(), lastKey)) {
                    iterator.next();
                }
            }
            int rawEntries = 0;
            while (readAhead.size() < readAheadStateEntries
                    && rawEntries < READ_AHEAD_RAW_ENTRIES
                    && iterator.isValid()) {
                RawStateEntry entry = readStateEntry(iterator);
                readAhead.add(entry);
                rawEntries += entry.rawKeys.size();
            }
            iterator.status();
            if (!iterator.isValid()) {
                // the next read starts from the first key
                lastKey = null;
            }
        } catch (RocksDBException | IOException e) {
            throw new FlinkRuntimeException(
                    "Could not visit state '" + state.getStateName() + "' for TTL cleanup", e);
        }
    }

    /** Reads the RocksDB entries of one key and namespace, leaving the iterator after them. */
    private RawStateEntry readStateEntry(RocksIterator iterator) throws IOException {
        byte[] first = iterator.key();
        int prefixLength = state.stateEntryKeyLength(first);
        List<byte[]> keys = new ArrayList<>(1);
        List<byte[]> values = new ArrayList<>(1);
        keys.add(first);
        values.add(iterator.value());
        lastKey = first;
        iterator.next();
        while (keys.size() < MAX_RAW_ENTRIES_PER_STATE_ENTRY
                && iterator.isValid()
                && hasPrefix(iterator.key(), first, prefixLength)) {
            byte[] key = iterator.key();
            keys.add(key);
            values.add(iterator.value());
            lastKey = key;
            iterator.next();
        }
        return new RawStateEntry(first, prefixLength, keys, values);
    }

    private static boolean hasPrefix(byte[] key, byte[] reference, int prefixLength) {
        return key.length >= prefixLength
                && Arrays.equals(key, 0, prefixLength, reference, 0, prefixLength);
    }

    @Override
    public void remove(StateEntry<K, N, V> stateEntry) {
        RawStateEntry entry = (RawStateEntry) stateEntry;
        try {
            if (state.holdsStateEntry(entry.rawKeys, entry.rawValues)) {
                state.deleteStateEntry(entry.rawKeys);
            }
        } catch (IOException e) {
            throw new FlinkRuntimeException(
                    "Could not remove an entry of state '" + state.getStateName() + "'", e);
        }
    }

    @Override
    public void update(StateEntry<K, N, V> stateEntry, V newValue) {
        RawStateEntry entry = (RawStateEntry) stateEntry;
        try {
            if (state.holdsStateEntry(entry.rawKeys, entry.rawValues)) {
                state.writeStateEntry(entry.rawKeys, entry.rawValues, newValue);
            }
        } catch (IOException e) {
            throw new FlinkRuntimeException(
                    "Could not update an entry of state '" + state.getStateName() + "'", e);
        }
    }

    /** One key and namespace as read; key, namespace and value are deserialized on demand. */
    private final class RawStateEntry implements StateEntry<K, N, V> {
        private final byte[] firstKey;
        private final int prefixLength;
        private final List<byte[]> rawKeys;
        private final List<byte[]> rawValues;
        private K key;
        private N namespace;
        private boolean keyAndNamespaceRead;
        private V value;
        private boolean valueRead;

        RawStateEntry(
                byte[] firstKey, int prefixLength, List<byte[]> rawKeys, List<byte[]> rawValues) {
            this.firstKey = firstKey;
            this.prefixLength = prefixLength;
            this.rawKeys = rawKeys;
            this.rawValues = rawValues;
        }

        @Override
        public K getKey() {
            readKeyAndNamespace();
            return key;
        }

        @Override
        public N getNamespace() {
            readKeyAndNamespace();
            return namespace;
        }

        @Override
        public V getState() {
            if (!valueRead) {
                try {
                    value = state.readStateEntry(rawKeys, rawValues);
                } catch (IOException e) {
                    throw new FlinkRuntimeException(
                            "Could not read an entry of state '" + state.getStateName() + "'", e);
                }
                valueRead = true;
            }
            return value;
        }

        private void readKeyAndNamespace() {
            if (keyAndNamespaceRead) {
                return;
            }
            TypeSerializer<K> keySerializer = state.getKeySerializer();
            TypeSerializer<N> namespaceSerializer = state.getNamespaceSerializer();
            boolean ambiguous =
                    CompositeKeySerializationUtils.isAmbiguousKeyPossible(
                            keySerializer, namespaceSerializer);
            int keyGroupPrefixBytes = context.getKeyGroupPrefixBytes();
            keyInput.setBuffer(firstKey, keyGroupPrefixBytes, prefixLength - keyGroupPrefixBytes);
            try {
                key = CompositeKeySerializationUtils.readKey(keySerializer, keyInput, ambiguous);
                namespace =
                        CompositeKeySerializationUtils.readNamespace(
                                namespaceSerializer, keyInput, ambiguous);
            } catch (IOException e) {
                throw new FlinkRuntimeException(
                        "Could not read a key of state '" + state.getStateName() + "'", e);
            }
            keyAndNamespaceRead = true;
        }
    }
}
