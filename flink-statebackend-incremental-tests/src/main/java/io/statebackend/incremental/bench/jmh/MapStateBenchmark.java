package io.statebackend.incremental.bench.jmh;

import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeutils.base.LongSerializer;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.TearDown;

import java.util.Map;

/**
 * Map state of {@link #MAP_SIZE} user keys {@code 0..MAP_SIZE-1} per key, user key {@code u} of key
 * {@code k} mapped to {@code k + u}. Iterations count one operation per entry read, as
 * apache/flink-benchmarks does.
 */
public class MapStateBenchmark extends KeyedStateBenchmarkBase {

    public static final int MAP_SIZE = 10;

    /** Coprime to every key count made of the factors 2 and 5; spreads removals over the keys. */
    private static final long REMOVAL_STRIDE = 1_000_003L;

    private MapState<Long, Long> state;

    /** How many entries {@link #mapRemove()} removed since they were last put back. */
    private long removals;

    @Override
    protected void preload() throws Exception {
        state = preloadMaps(this);
    }

    /**
     * Creates the map state of a benchmark and puts user key {@code u} of key {@code k} as k + u.
     */
    static MapState<Long, Long> preloadMaps(KeyedStateBenchmarkBase benchmark) throws Exception {
        MapState<Long, Long> maps =
                benchmark.state(
                        new MapStateDescriptor<>(
                                "map", LongSerializer.INSTANCE, LongSerializer.INSTANCE));
        for (long key = 0; key < benchmark.keyCount; key++) {
            benchmark.keyed.setCurrentKey(key);
            for (long userKey = 0; userKey < MAP_SIZE; userKey++) {
                maps.put(userKey, key + userKey);
            }
        }
        return maps;
    }

    @Benchmark
    public Long mapGet() throws Exception {
        selectRandomKey();
        return state.get((long) randomInt(MAP_SIZE));
    }

    /** Overwrites an entry with the value it was preloaded with, so reads stay checkable. */
    @Benchmark
    public void mapPut() throws Exception {
        long key = selectRandomKey();
        long userKey = randomInt(MAP_SIZE);
        state.put(userKey, key + userKey);
    }

    /** Half of the user keys asked for are present. */
    @Benchmark
    public boolean mapContains() throws Exception {
        selectRandomKey();
        return state.contains((long) randomInt(2 * MAP_SIZE));
    }

    @Benchmark
    @OperationsPerInvocation(MAP_SIZE)
    public long mapKeys() throws Exception {
        selectRandomKey();
        return sum(state.keys());
    }

    @Benchmark
    @OperationsPerInvocation(MAP_SIZE)
    public long mapValues() throws Exception {
        selectRandomKey();
        return sum(state.values());
    }

    @Benchmark
    @OperationsPerInvocation(MAP_SIZE)
    public long mapEntries() throws Exception {
        selectRandomKey();
        long sum = 0;
        for (Map.Entry<Long, Long> entry : state.entries()) {
            sum += entry.getKey() * 31 + entry.getValue();
        }
        return sum;
    }

    /**
     * Removes a present entry: the n-th removal takes user key {@code n / keyCount} of a key that
     * the stride picks, so no entry is removed twice before {@link #restoreRemoved()} puts them
     * back.
     */
    @Benchmark
    public void mapRemove() throws Exception {
        long n = removals++ % ((long) keyCount * MAP_SIZE);
        keyed.setCurrentKey(removedKey(n));
        state.remove(n / keyCount);
    }

    private static long sum(Iterable<Long> numbers) {
        long sum = 0;
        for (Long number : numbers) {
            sum += number;
        }
        return sum;
    }

    @TearDown(Level.Iteration)
    public void restoreRemoved() throws Exception {
        long restored = Math.min(removals, (long) keyCount * MAP_SIZE);
        for (long n = 0; n < restored; n++) {
            long key = removedKey(n);
            long userKey = n / keyCount;
            keyed.setCurrentKey(key);
            state.put(userKey, key + userKey);
        }
        removals = 0;
    }

    private long removedKey(long n) {
        return Math.floorMod(n * REMOVAL_STRIDE, (long) keyCount);
    }

    /** The map of the current key, for checks. */
    public Iterable<Map.Entry<Long, Long>> entriesOfCurrentKey() throws Exception {
        return state.entries();
    }
}
