package io.statebackend.incremental.state;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.state.internal.InternalValueState;

import org.rocksdb.RocksDBException;

import java.io.IOException;

/** Value state: one entry per key and namespace. */
public class RocksDBValueState<K, N, V> extends AbstractRocksDBState<K, N, V>
        implements InternalValueState<K, N, V> {

    private final V defaultValue;

    public RocksDBValueState(
            RocksDBStateContext<K> backend,
            String stateName,
            TypeSerializer<N> namespaceSerializer,
            TypeSerializer<V> valueSerializer,
            V defaultValue) {
        super(backend, stateName, namespaceSerializer, valueSerializer);
        this.defaultValue = defaultValue;
    }

    @Override
    public V value() throws IOException {
        int keyLength = writeCurrentKeyAndNamespace();
        if (!readIntoValueInput(keyBuilder().buffer(), keyLength)) {
            return defaultValue == null ? null : valueSerializer.copy(defaultValue);
        }
        return valueSerializer.deserialize(valueInput);
    }

    @Override
    public void update(V value) throws IOException {
        if (value == null) {
            clear();
            return;
        }
        writeToValueOutput(value, valueSerializer);
        int keyLength = writeCurrentKeyAndNamespace();
        try {
            putValueOutput(keyBuilder().buffer(), 0, keyLength);
        } catch (RocksDBException e) {
            throw new IOException("Could not update state '" + stateName + "' in RocksDB", e);
        }
    }
}
