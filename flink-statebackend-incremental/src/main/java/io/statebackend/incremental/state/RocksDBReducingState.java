package io.statebackend.incremental.state;

import org.apache.flink.api.common.functions.ReduceFunction;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.state.internal.InternalReducingState;

import java.io.IOException;

/** Reducing state: input is reduced into the stored value on every add. */
public class RocksDBReducingState<K, N, V> extends AbstractRocksDBMergingState<K, N, V, V, V>
        implements InternalReducingState<K, N, V> {

    private final ReduceFunction<V> reduceFunction;

    public RocksDBReducingState(
            RocksDBStateContext<K> backend,
            String stateName,
            TypeSerializer<N> namespaceSerializer,
            TypeSerializer<V> valueSerializer,
            ReduceFunction<V> reduceFunction) {
        super(backend, stateName, namespaceSerializer, valueSerializer);
        this.reduceFunction = reduceFunction;
    }

    @Override
    public V get() throws IOException {
        return getInternal();
    }

    @Override
    public void add(V value) throws Exception {
        // the key is serialized once for the read and the write
        byte[] key = currentKeyAndNamespace();
        V current = get(key);
        put(key, current == null ? value : reduceFunction.reduce(current, value));
    }

    @Override
    protected V mergeState(V left, V right) throws Exception {
        return reduceFunction.reduce(left, right);
    }
}
