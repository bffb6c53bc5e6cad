package io.statebackend.incremental.bench.jmh;

import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.LongSerializer;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/** Value state: one read or one write of a random preloaded key. */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
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
