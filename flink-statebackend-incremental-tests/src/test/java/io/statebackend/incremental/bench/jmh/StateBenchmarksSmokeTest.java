package io.statebackend.incremental.bench.jmh;

import org.apache.flink.streaming.api.operators.TimerHeapInternalTimer;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs every state benchmark method a few times outside of JMH, on few keys, and checks what it
 * read or wrote, so that the benchmarks compile and work in every build. Flink's RocksDB backend is
 * not on this class path (see tools/bench/state-bench.sh); nothing here measures time.
 */
class StateBenchmarksSmokeTest {

    private static final int KEYS = 500;
    private static final int CALLS = 200;

    @ParameterizedTest
    @ValueSource(strings = {BenchmarkBackend.INCREMENTAL, BenchmarkBackend.HASHMAP})
    void valueState(String backend) throws Exception {
        ValueStateBenchmark benchmark = open(new ValueStateBenchmark(), backend);
        try {
            for (int i = 0; i < CALLS; i++) {
                benchmark.valueUpdate();
                assertThat(benchmark.valueGet()).isEqualTo(benchmark.lastKey());
            }
        } finally {
            benchmark.closeBackend();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {BenchmarkBackend.INCREMENTAL, BenchmarkBackend.HASHMAP})
    void listState(String backend) throws Exception {
        ListStateBenchmark benchmark = open(new ListStateBenchmark(), backend);
        try {
            for (int i = 0; i < CALLS; i++) {
                long sum = benchmark.listGet();
                long key = benchmark.lastKey();
                long length = ListStateBenchmark.LIST_LENGTH;
                assertThat(sum).isEqualTo(key * length + length * (length - 1) / 2);
            }
            Map<Long, Integer> appends = new HashMap<>();
            for (int i = 0; i < CALLS; i++) {
                benchmark.listAdd();
                appends.merge(benchmark.lastKey(), 1, Integer::sum);
                List<Long> appended = new ArrayList<>();
                benchmark.appendedOfLastKey().forEach(appended::add);
                assertThat(appended)
                        .hasSize(appends.get(benchmark.lastKey()))
                        .containsOnly(benchmark.lastKey());
            }
            benchmark.clearAppended();
            benchmark.listAdd();
            assertThat(benchmark.appendedOfLastKey()).containsExactly(benchmark.lastKey());
        } finally {
            benchmark.closeBackend();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {BenchmarkBackend.INCREMENTAL, BenchmarkBackend.HASHMAP})
    void mapState(String backend) throws Exception {
        MapStateBenchmark benchmark = open(new MapStateBenchmark(), backend);
        int size = MapStateBenchmark.MAP_SIZE;
        long userKeySum = (long) size * (size - 1) / 2;
        try {
            for (int i = 0; i < CALLS; i++) {
                benchmark.mapPut();
                Long value = benchmark.mapGet();
                assertThat(value).isBetween(benchmark.lastKey(), benchmark.lastKey() + size - 1);
                benchmark.mapContains();
                assertThat(benchmark.mapKeys()).isEqualTo(userKeySum);
                assertThat(benchmark.mapValues())
                        .isEqualTo(benchmark.lastKey() * size + userKeySum);
                assertThat(benchmark.mapEntries())
                        .isEqualTo(userKeySum * 31 + benchmark.lastKey() * size + userKeySum);
            }
            int contained = 0;
            for (int i = 0; i < CALLS; i++) {
                contained += benchmark.mapContains() ? 1 : 0;
            }
            // user keys below MAP_SIZE are present, those up to twice of it are not
            assertThat(contained).isStrictlyBetween(0, CALLS);

            // every removal takes a present entry: KEYS removals empty one user key of all keys
            for (int i = 0; i < KEYS; i++) {
                benchmark.mapRemove();
            }
            assertThat(countEntries(benchmark)).isEqualTo((long) KEYS * (size - 1));
            benchmark.restoreRemoved();
            assertThat(countEntries(benchmark)).isEqualTo((long) KEYS * size);
        } finally {
            benchmark.closeBackend();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {BenchmarkBackend.INCREMENTAL, BenchmarkBackend.HASHMAP})
    void clearedMapState(String backend) throws Exception {
        ClearedMapStateBenchmark benchmark = open(new ClearedMapStateBenchmark(), backend);
        int size = MapStateBenchmark.MAP_SIZE;
        long userKeySum = (long) size * (size - 1) / 2;
        try {
            for (long key = 0; key < KEYS; key++) {
                benchmark.keyed.setCurrentKey(key);
                assertThat(benchmark.currentMapIsEmpty())
                        .as("map of key %s", key)
                        .isEqualTo(key % 2 == 1);
            }
            for (int i = 0; i < CALLS; i++) {
                // the entries of an even key k sum to 31 * userKeySum + size * k + userKeySum
                long keyTimesSize = benchmark.mapEntriesNextToCleared() - 32 * userKeySum;
                assertThat(keyTimesSize % (2L * size)).isZero();
                assertThat(keyTimesSize / size).isBetween(0L, (long) KEYS - 1);
            }
        } finally {
            benchmark.closeBackend();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {BenchmarkBackend.INCREMENTAL, BenchmarkBackend.HASHMAP})
    void timers(String backend) throws Exception {
        TimerBenchmark benchmark = open(new TimerBenchmark(), backend);
        try {
            for (int i = 0; i < CALLS; i++) {
                TimerHeapInternalTimer<Long, ?> timer = benchmark.timerPoll();
                // the preloaded timers fire in time order, then re-armed ones one round later
                assertThat(timer.getTimestamp()).isEqualTo(i);
                assertThat(timer.getKey()).isEqualTo(i % KEYS);
            }
            assertThat(benchmark.earliestTimer().getTimestamp()).isEqualTo(CALLS);
            for (int i = 0; i < CALLS; i++) {
                assertThat(benchmark.timerAdd()).isEqualTo(i == 0);
            }
            assertThat(benchmark.addedTimers()).isEqualTo(CALLS);
            benchmark.pollAdded();
            assertThat(benchmark.addedTimers()).isZero();
        } finally {
            benchmark.closeBackend();
        }
    }

    private static <B extends KeyedStateBenchmarkBase> B open(B benchmark, String backend)
            throws Exception {
        benchmark.backend = backend;
        benchmark.keyCount = KEYS;
        benchmark.openBackend();
        return benchmark;
    }

    private static long countEntries(MapStateBenchmark benchmark) throws Exception {
        long count = 0;
        for (long key = 0; key < KEYS; key++) {
            benchmark.keyed.setCurrentKey(key);
            for (Map.Entry<Long, Long> ignored : benchmark.entriesOfCurrentKey()) {
                count++;
            }
        }
        return count;
    }
}
