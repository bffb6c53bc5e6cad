package io.statebackend.incremental.bench.jmh;

import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.LongSerializer;

import org.openjdk.jmh.annotations.Benchmark;

/** Value state: one read or one write of a random preloaded key. */
public class ValueStateBenchmark extends KeyedStateBenchmarkBase {

    private ValueState<Long> state;

    @Override
    protected void preload() throws Exception {
        state = state(new ValueStateDescriptor<>("value", LongSerializer.INSTANCE));
        for (long key = 0; key < keyCount; key++) {
            keyed.setCurrentKey(key);
            state.update(key);
        }
    }

    @Benchmark
    public Long valueGet() throws Exception {
        selectRandomKey();
        return state.value();
    }

    /** Writes the value the key was preloaded with, so reads stay checkable. */
    @Benchmark
    public void valueUpdate() throws Exception {
        state.update(selectRandomKey());
    }
}
