package io.statebackend.incremental.state;

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

    @Override
    public StateIncrementalVisitor<K, N, V> getStateIncrementalVisitor(
            int recommendedMaxNumberOfReturnedRecords) {
        // expired entries are dropped by full snapshots and on access; RocksDB has no
        // incremental visitor
        throw new UnsupportedOperationException(
                "Incremental state visiting is not supported by the RocksDB backend.");
    }
}
