package io.statebackend.incremental.state;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.state.internal.InternalMergingState;

import org.rocksdb.RocksDBException;

import java.io.IOException;
import java.util.Collection;

/**
 * Base of reducing and aggregating state: one stored value per key and namespace that new input is
 * folded into, and that window merging combines.
 *
 * @param <SV> the stored value (the reduced value or the accumulator)
 */
abstract class AbstractRocksDBMergingState<K, N, IN, SV, OUT> extends AbstractRocksDBState<K, N, SV>
        implements InternalMergingState<K, N, IN, SV, OUT> {

    AbstractRocksDBMergingState(
            RocksDBStateContext<K> backend,
            String stateName,
            TypeSerializer<N> namespaceSerializer,
            TypeSerializer<SV> valueSerializer) {
        super(backend, stateName, namespaceSerializer, valueSerializer);
    }

    /** Combines two stored values of the same key. */
    protected abstract SV mergeState(SV left, SV right) throws Exception;

    @Override
    public SV getInternal() throws IOException {
        return get(currentKeyAndNamespace());
    }

    @Override
    public void updateInternal(SV value) throws IOException {
        put(currentKeyAndNamespace(), value);
    }

    /** The stored value under a key built once by the caller, or null. */
    protected SV get(byte[] key) throws IOException {
        return readIntoValueInput(key, key.length) ? valueSerializer.deserialize(valueInput) : null;
    }

    protected void put(byte[] key, SV value) throws IOException {
        try {
            if (value == null) {
                backend.getDb().delete(columnFamily, backend.getWriteOptions(), key);
            } else {
                backend.getDb()
                        .put(columnFamily, backend.getWriteOptions(), key, serializeValue(value));
            }
        } catch (RocksDBException e) {
            throw new IOException("Could not write state '" + stateName + "' to RocksDB", e);
        }
    }

    @Override
    public void mergeNamespaces(N target, Collection<N> sources) throws Exception {
        if (sources == null || sources.isEmpty()) {
            return;
        }
        SV merged = null;
        for (N source : sources) {
            if (source == null) {
                continue;
            }
            byte[] sourceKey = keyAndNamespace(source);
            byte[] bytes = getRaw(sourceKey);
            if (bytes != null) {
                backend.getDb().delete(columnFamily, backend.getWriteOptions(), sourceKey);
                SV value = deserializeValue(bytes);
                merged = merged == null ? value : mergeState(merged, value);
            }
        }
        if (merged != null) {
            byte[] targetKey = keyAndNamespace(target);
            byte[] targetBytes = getRaw(targetKey);
            if (targetBytes != null) {
                merged = mergeState(deserializeValue(targetBytes), merged);
            }
            put(targetKey, merged);
        }
    }
}
