package io.statebackend.incremental.state;

import io.statebackend.incremental.ttl.RocksDBStateIncrementalVisitor;
import io.statebackend.incremental.ttl.TtlCleanupStrategies;

import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.queryablestate.client.state.serialization.KvStateSerializer;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.SerializedCompositeKeyBuilder;
import org.apache.flink.runtime.state.internal.InternalKvState;
import org.apache.flink.util.FlinkRuntimeException;
import org.apache.flink.util.Preconditions;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/**
 * Base of all keyed states kept in RocksDB: one column family per state, keys built by the
 * backend's shared {@link StateKeyBuilder} as {@code [key-group][key][namespace]}.
 *
 * @param <K> key type
 * @param <N> namespace type
 * @param <V> type of the state's value as seen by the runtime
 */
public abstract class AbstractRocksDBState<K, N, V> implements InternalKvState<K, N, V> {

    /** Values up to this size are read into a buffer kept for the next reads. */
    private static final int MAX_RETAINED_READ_BUFFER = 64 * 1024;

    private static final byte[] NO_BYTES = new byte[0];

    protected final RocksDBStateContext<K> backend;
    protected final String stateName;
    protected final ColumnFamilyHandle columnFamily;

    protected TypeSerializer<N> namespaceSerializer;
    protected TypeSerializer<V> valueSerializer;

    /** Reused to serialize values; states are used by the task thread only. */
    protected final DataOutputSerializer valueOutput = new DataOutputSerializer(128);

    /** Reused to deserialize values. */
    protected final DataInputDeserializer valueInput = new DataInputDeserializer();

    /** Reused to read values by point lookups; see {@link #readIntoValueInput}. */
    private byte[] readBuffer = new byte[128];

    private final PointReader pointReader;

    private N currentNamespace;

    private StateTtlConfig ttlConfig = StateTtlConfig.DISABLED;

    protected AbstractRocksDBState(
            RocksDBStateContext<K> backend,
            String stateName,
            TypeSerializer<N> namespaceSerializer,
            TypeSerializer<V> valueSerializer) {
        this.backend = backend;
        this.stateName = stateName;
        this.columnFamily = backend.getColumnFamily(stateName);
        this.pointReader = new PointReader(backend.getDb(), columnFamily, backend.getReadOptions());
        this.namespaceSerializer = namespaceSerializer;
        this.valueSerializer = valueSerializer;
    }

    /** Points an existing state object at new serializers after its meta info was updated. */
    public void updateSerializers(
            TypeSerializer<N> namespaceSerializer, TypeSerializer<V> valueSerializer) {
        this.namespaceSerializer = namespaceSerializer;
        this.valueSerializer = valueSerializer;
    }

    @Override
    public TypeSerializer<K> getKeySerializer() {
        return backend.getKeySerializer();
    }

    @Override
    public TypeSerializer<N> getNamespaceSerializer() {
        return namespaceSerializer;
    }

    @Override
    public TypeSerializer<V> getValueSerializer() {
        return valueSerializer;
    }

    @Override
    public void setCurrentNamespace(N namespace) {
        this.currentNamespace = Preconditions.checkNotNull(namespace, "Namespace must not be null");
    }

    protected N getCurrentNamespace() {
        return currentNamespace;
    }

    public void clear() {
        try {
            deleteKey(keyBuilder().buffer(), 0, writeCurrentKeyAndNamespace());
        } catch (RocksDBException e) {
            throw failure("clear", e);
        }
    }

    /** Deletes the key in the given range of {@code key}. */
    protected void deleteKey(byte[] key, int keyOffset, int keyLength) throws RocksDBException {
        backend.getDb().delete(columnFamily, backend.getWriteOptions(), key, keyOffset, keyLength);
    }

    /** The backend's shared key builder, which holds the current key. */
    protected StateKeyBuilder<K> keyBuilder() {
        return backend.getSharedKeyBuilder();
    }

    /**
     * Writes {@code [key-group][current key][current namespace]} into the shared key builder;
     * returns its length. The builder's buffer holds it until the next key is built.
     */
    protected int writeCurrentKeyAndNamespace() {
        return keyBuilder().setNamespace(currentNamespace, namespaceSerializer);
    }

    /** {@code [key-group][current key][current namespace]}, freshly allocated. */
    protected byte[] currentKeyAndNamespace() {
        return keyAndNamespace(currentNamespace);
    }

    protected byte[] keyAndNamespace(N namespace) {
        keyBuilder().setNamespace(namespace, namespaceSerializer);
        return keyBuilder().copy();
    }

    protected byte[] serializeValue(V value) throws IOException {
        return serializeWith(value, valueSerializer);
    }

    protected <T> byte[] serializeWith(T value, TypeSerializer<T> serializer) throws IOException {
        writeToValueOutput(value, serializer);
        return valueOutput.getCopyOfBuffer();
    }

    /** Serializes into {@link #valueOutput}, for a write that passes its buffer to RocksDB. */
    protected <T> void writeToValueOutput(T value, TypeSerializer<T> serializer)
            throws IOException {
        valueOutput.clear();
        serializer.serialize(value, valueOutput);
    }

    protected V deserializeValue(byte[] bytes) throws IOException {
        valueInput.setBuffer(bytes);
        return valueSerializer.deserialize(valueInput);
    }

    /** The value of {@code key} in an array of its own, or null; read as every point read is. */
    protected byte[] getRaw(byte[] key) {
        if (!readIntoValueInput(key, key.length)) {
            return null;
        }
        final byte[] value = new byte[valueInput.available()];
        try {
            valueInput.readFully(value);
        } catch (IOException e) {
            throw new IllegalStateException("The value just read is shorter than its length.", e);
        }
        return value;
    }

    /**
     * Reads the value of the key in the first {@code keyLength} bytes of {@code key} into a reused
     * buffer and points {@link #valueInput} at it, so that a point read allocates no array; false
     * if the key has no value.
     */
    protected boolean readIntoValueInput(byte[] key, int keyLength) {
        try {
            int length = getInto(key, keyLength, readBuffer);
            byte[] target = readBuffer;
            if (length > readBuffer.length) {
                // larger than any value so far: read it again whole, into a buffer kept for the
                // next reads unless it is unusually large
                target = new byte[length];
                if (length <= MAX_RETAINED_READ_BUFFER) {
                    readBuffer = target;
                }
                length = getInto(key, keyLength, target);
            }
            if (length == RocksDB.NOT_FOUND) {
                return false;
            }
            valueInput.setBuffer(target, 0, length);
            return true;
        } catch (RocksDBException e) {
            throw failure("read", e);
        }
    }

    /**
     * Copies as much of the key's value as fits into {@code target}; returns the value's whole
     * length, or {@link RocksDB#NOT_FOUND}.
     */
    private int getInto(byte[] key, int keyLength, byte[] target) throws RocksDBException {
        return pointReader.read(key, keyLength, target);
    }

    /** Whether the key in the first {@code keyLength} bytes of {@code key} has a value. */
    protected boolean containsKey(byte[] key, int keyLength) {
        try {
            // the value's size is returned whatever its length; nothing of it is copied
            return getInto(key, keyLength, NO_BYTES) != RocksDB.NOT_FOUND;
        } catch (RocksDBException e) {
            throw failure("read", e);
        }
    }

    /** Writes the bytes of {@link #valueOutput} under the given range of {@code key}. */
    protected void putValueOutput(byte[] key, int keyOffset, int keyLength)
            throws RocksDBException {
        backend.getDb()
                .put(
                        columnFamily,
                        backend.getWriteOptions(),
                        key,
                        keyOffset,
                        keyLength,
                        valueOutput.getSharedBuffer(),
                        0,
                        valueOutput.length());
    }

    protected FlinkRuntimeException failure(String operation, Exception e) {
        return new FlinkRuntimeException(
                "Could not " + operation + " state '" + stateName + "' in RocksDB", e);
    }

    /**
     * Serves queryable state and the runtime's checks. Thread-safe: it uses its own key builder,
     * never the shared one, and the given serializers.
     */
    @Override
    public byte[] getSerializedValue(
            byte[] serializedKeyAndNamespace,
            TypeSerializer<K> safeKeySerializer,
            TypeSerializer<N> safeNamespaceSerializer,
            TypeSerializer<V> safeValueSerializer)
            throws Exception {
        org.apache.flink.api.java.tuple.Tuple2<K, N> keyAndNamespace =
                KvStateSerializer.deserializeKeyAndNamespace(
                        serializedKeyAndNamespace, safeKeySerializer, safeNamespaceSerializer);
        SerializedCompositeKeyBuilder<K> keyBuilder =
                new SerializedCompositeKeyBuilder<>(
                        safeKeySerializer, backend.getKeyGroupPrefixBytes(), 32);
        int keyGroup =
                KeyGroupRangeAssignment.assignToKeyGroup(
                        keyAndNamespace.f0, backend.getNumberOfKeyGroups());
        keyBuilder.setKeyAndKeyGroup(keyAndNamespace.f0, keyGroup);
        return getSerializedValue(
                keyBuilder, keyAndNamespace.f1, safeNamespaceSerializer, safeValueSerializer);
    }

    /** The value bytes for queryable state; states whose layout is not one entry override. */
    protected byte[] getSerializedValue(
            SerializedCompositeKeyBuilder<K> keyBuilder,
            N namespace,
            TypeSerializer<N> safeNamespaceSerializer,
            TypeSerializer<V> safeValueSerializer)
            throws Exception {
        return backend.getDb()
                .get(
                        columnFamily,
                        backend.getReadOptions(),
                        keyBuilder.buildCompositeKeyNamespace(namespace, safeNamespaceSerializer));
    }

    /**
     * The TTL configuration of the descriptor this state was last registered with; decides which
     * cleanup this backend runs for it.
     */
    public StateTtlConfig getTtlConfig() {
        return ttlConfig;
    }

    public void setTtlConfig(StateTtlConfig ttlConfig) {
        this.ttlConfig = Preconditions.checkNotNull(ttlConfig, "TTL config must not be null");
    }

    public String getStateName() {
        return stateName;
    }

    public ColumnFamilyHandle getColumnFamilyHandle() {
        return columnFamily;
    }

    public RocksDBStateContext<K> getContext() {
        return backend;
    }

    // ------------------------------------------------------------------------
    //  state entries as RocksDB entries, for the incremental visitor
    // ------------------------------------------------------------------------

    /**
     * How many leading bytes of a RocksDB key all RocksDB entries of one state entry (one key and
     * namespace) share. One entry per state entry here; map state has one per user key.
     */
    public int stateEntryKeyLength(byte[] rawKey) {
        return rawKey.length;
    }

    /** The value of one state entry, from its RocksDB entries in key order. */
    public V readStateEntry(List<byte[]> rawKeys, List<byte[]> rawValues) throws IOException {
        return deserializeValue(rawValues.get(0));
    }

    /**
     * Replaces one state entry by {@code newValue}, touching only the given RocksDB entries (and,
     * for map state, the user keys of the new value).
     */
    public void writeStateEntry(List<byte[]> rawKeys, List<byte[]> rawValues, V newValue)
            throws IOException {
        if (newValue == null) {
            deleteStateEntry(rawKeys);
            return;
        }
        try {
            backend.getDb()
                    .put(
                            columnFamily,
                            backend.getWriteOptions(),
                            rawKeys.get(0),
                            serializeStateEntry(newValue));
        } catch (RocksDBException e) {
            throw new IOException("Could not update state '" + stateName + "' in RocksDB", e);
        }
    }

    /** The bytes one state entry is stored as; list state stores Flink's delimited encoding. */
    protected byte[] serializeStateEntry(V value) throws IOException {
        return serializeValue(value);
    }

    /**
     * Whether every given RocksDB entry still holds the given bytes (an absent entry holds null);
     * read as every point read of the state is, on the task thread like the state's writes.
     */
    public boolean holdsStateEntry(List<byte[]> rawKeys, List<byte[]> rawValues) {
        for (int i = 0; i < rawKeys.size(); i++) {
            if (!Arrays.equals(getRaw(rawKeys.get(i)), rawValues.get(i))) {
                return false;
            }
        }
        return true;
    }

    /** Deletes exactly the given RocksDB entries of one state entry. */
    public void deleteStateEntry(List<byte[]> rawKeys) throws IOException {
        try {
            for (byte[] rawKey : rawKeys) {
                backend.getDb().delete(columnFamily, backend.getWriteOptions(), rawKey);
            }
        } catch (RocksDBException e) {
            throw new IOException("Could not delete from state '" + stateName + "' in RocksDB", e);
        }
    }

    /**
     * Hands out a visitor over all entries of this state for TTL's incremental cleanup, unless the
     * state's TTL config asks for incremental cleanup only because background cleanup is on (the
     * runtime's default): that one is served by the backend's own background cleanup, as Flink's
     * RocksDB backend serves it by a compaction filter, so this backend does not scan twice.
     */
    @Override
    public StateIncrementalVisitor<K, N, V> getStateIncrementalVisitor(
            int recommendedMaxNumberOfReturnedRecords) {
        if (TtlCleanupStrategies.incrementalOnlyByDefault(ttlConfig)) {
            throw new UnsupportedOperationException(
                    "State '"
                            + stateName
                            + "' asks for incremental TTL cleanup only through background"
                            + " cleanup, which this backend runs itself.");
        }
        return new RocksDBStateIncrementalVisitor<>(this, recommendedMaxNumberOfReturnedRecords);
    }
}
