package io.statebackend.incremental.bench.jmh;

import org.apache.flink.api.common.state.MapState;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;

import java.util.Map;

/**
 * Map state used as a buffer that is cleared when it has been processed (a window's contents, a
 * join's pending side): the maps of {@link MapStateBenchmark} for every key, compacted, then the
 * maps of the odd keys cleared. Their tombstones stay in the memtable and the newest files until
 * compaction drops them, between the maps of the even keys, which the benchmark iterates.
 */
public class ClearedMapStateBenchmark extends KeyedStateBenchmarkBase {

    private MapState<Long, Long> state;

    @Override
    protected void preload() throws Exception {
        state = MapStateBenchmark.preloadMaps(this);
    }

    @Override
    protected void afterCompaction() throws Exception {
        for (long key = 1; key < keyCount; key += 2) {
            keyed.setCurrentKey(key);
            state.clear();
        }
    }

    /** Iterates the map of a random even key, whose neighbours are cleared half of the time. */
    @Benchmark
    @OperationsPerInvocation(MapStateBenchmark.MAP_SIZE)
    public long mapEntriesNextToCleared() throws Exception {
        keyed.setCurrentKey(2L * randomInt(keyCount / 2));
        long sum = 0;
        for (Map.Entry<Long, Long> entry : state.entries()) {
            sum += entry.getKey() * 31 + entry.getValue();
        }
        return sum;
    }

    /** Whether the map of the current key is empty, for checks. */
    public boolean currentMapIsEmpty() throws Exception {
        return state.isEmpty();
    }
}
