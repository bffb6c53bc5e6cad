package io.statebackend.incremental.state;

import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.state.internal.InternalAggregatingState;

import java.io.IOException;

/** Aggregating state: the stored value is the accumulator of an {@link AggregateFunction}. */
public class RocksDBAggregatingState<K, N, IN, ACC, OUT>
        extends AbstractRocksDBMergingState<K, N, IN, ACC, OUT>
        implements InternalAggregatingState<K, N, IN, ACC, OUT> {

    private final AggregateFunction<IN, ACC, OUT> aggregateFunction;

    public RocksDBAggregatingState(
            RocksDBStateContext<K> backend,
            String stateName,
            TypeSerializer<N> namespaceSerializer,
            TypeSerializer<ACC> accumulatorSerializer,
            AggregateFunction<IN, ACC, OUT> aggregateFunction) {
        super(backend, stateName, namespaceSerializer, accumulatorSerializer);
        this.aggregateFunction = aggregateFunction;
    }

    @Override
    public OUT get() throws IOException {
        ACC accumulator = getInternal();
        return accumulator == null ? null : aggregateFunction.getResult(accumulator);
    }

    @Override
    public void add(IN value) throws IOException {
        // the key is serialized once for the read and the write
        byte[] key = currentKeyAndNamespace();
        ACC accumulator = get(key);
        if (accumulator == null) {
            accumulator = aggregateFunction.createAccumulator();
        }
        put(key, aggregateFunction.add(value, accumulator));
    }

    @Override
    protected ACC mergeState(ACC left, ACC right) {
        return aggregateFunction.merge(left, right);
    }
}
