package io.statebackend.incremental.bench.jmh;

import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.runtime.state.AbstractKeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;

import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What every state benchmark shares: the backend chosen by {@link #backend}, {@link #keyCount} keys
 * {@code 0..keyCount-1} that each benchmark preloads, and a cheap pseudo-random key sequence that
 * is the same for every backend.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public abstract class KeyedStateBenchmarkBase {

    /** {@code incremental}, {@code rocksdb} (Flink's) or {@code hashmap}. */
    @Param({BenchmarkBackend.INCREMENTAL})
    public String backend;

    @Param({"200000"})
    public int keyCount;

    protected BenchmarkBackend opened;
    protected AbstractKeyedStateBackend<Long> keyed;

    /** The states {@link #preload()} created, compacted after it. */
    private final List<StateDescriptor<?, ?>> states = new ArrayList<>();

    private long random = 0x9E3779B97F4A7C15L;
    private long lastKey;

    @Setup(Level.Trial)
    public void openBackend() throws Exception {
        opened = BenchmarkBackend.open(backend);
        keyed = opened.keyed();
        preload();
        opened.compact(states);
        afterCompaction();
    }

    @TearDown(Level.Trial)
    public void closeBackend() throws Exception {
        if (opened != null) {
            opened.close();
            opened = null;
        }
    }

    /** Fills the states this benchmark reads, once per trial. */
    protected abstract void preload() throws Exception;

    /** Changes the preloaded states after their compaction; nothing by default. */
    protected void afterCompaction() throws Exception {}

    protected <S extends org.apache.flink.api.common.state.State> S state(
            StateDescriptor<S, ?> descriptor) throws Exception {
        states.add(descriptor);
        return keyed.getPartitionedState(
                VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, descriptor);
    }

    /** Picks a pseudo-random key of the preloaded ones and makes it the current key. */
    protected long selectRandomKey() {
        long key = Math.floorMod(nextRandom(), (long) keyCount);
        keyed.setCurrentKey(key);
        lastKey = key;
        return key;
    }

    /** The key the last {@link #selectRandomKey()} selected. */
    public long lastKey() {
        return lastKey;
    }

    /** A non-negative pseudo-random int below {@code bound}. */
    protected int randomInt(int bound) {
        return (int) Math.floorMod(nextRandom(), (long) bound);
    }

    private long nextRandom() {
        // xorshift64: cheap next to any state access, and the same sequence for every backend
        random ^= random << 13;
        random ^= random >>> 7;
        random ^= random << 17;
        return random;
    }
}
