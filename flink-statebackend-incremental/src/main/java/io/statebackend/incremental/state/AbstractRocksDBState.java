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
import org.rocksdb.RocksDBException;

import java.io.IOException;
import java.util.List;

/**
 * Base of all keyed states kept in RocksDB: one column family per state, keys built by the
 * backend's shared {@link SerializedCompositeKeyBuilder} as {@code [key-group][key][namespace]}.
 *
 * @param <K> key type
 * @param <N> namespace type
 * @param <V> type of the state's value as seen by the runtime
 */
public abstract class AbstractRocksDBState<K, N, V> implements InternalKvState<K, N, V> {

    protected final RocksDBStateContext<K> backend;
    protected final String stateName;
    protected final ColumnFamilyHandle columnFamily;

    protected TypeSerializer<N> namespaceSerializer;
    protected TypeSerializer<V> valueSerializer;

    /** Reused to serialize values; states are used by the task thread only. */
    protected final DataOutputSerializer valueOutput = new DataOutputSerializer(128);

    /** Reused to deserialize values. */
    protected final DataInputDeserializer valueInput = new DataInputDeserializer();

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
            backend.getDb()
                    .delete(columnFamily, backend.getWriteOptions(), currentKeyAndNamespace());
        } catch (RocksDBException e) {
            throw failure("clear", e);
        }
    }

    /** {@code [key-group][current key][current namespace]}, freshly allocated. */
    protected byte[] currentKeyAndNamespace() {
        return keyAndNamespace(currentNamespace);
    }

    protected byte[] keyAndNamespace(N namespace) {
        return backend.getSharedKeyBuilder()
                .buildCompositeKeyNamespace(namespace, namespaceSerializer);
    }

    protected byte[] serializeValue(V value) throws IOException {
        return serializeWith(value, valueSerializer);
    }

    protected <T> byte[] serializeWith(T value, TypeSerializer<T> serializer) throws IOException {
        valueOutput.clear();
        serializer.serialize(value, valueOutput);
        return valueOutput.getCopyOfBuffer();
    }

    protected V deserializeValue(byte[] bytes) throws IOException {
        valueInput.setBuffer(bytes);
        return valueSerializer.deserialize(valueInput);
    }

    protected byte[] getRaw(byte[] key) {
        try {
            return backend.getDb().get(columnFamily, backend.getReadOptions(), key);
        } catch (RocksDBException e) {
            throw failure("read", e);
        }
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
