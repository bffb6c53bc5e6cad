package io.statebackend.incremental.bench;

import io.statebackend.incremental.IncrementalRocksDBStateBackend;

import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.AbstractKeyedStateBackend;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateBackendParametersImpl;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.util.FileUtils;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Locale;

/**
 * A list state read driver: how long {@code ListState#get()} takes when every element was added by
 * its own {@code add()} and nothing merged the operands since (they are still in the memtable), for
 * several list lengths. The cost of such a read is decided by the merge operator: pairwise appends
 * copy the growing list once per element, a full merge builds it once.
 *
 * <p>Prints a Markdown table. Durations depend on the machine; the growth from one length to the
 * next is what the driver is for. It is not a test and asserts nothing about time.
 *
 * <p>Run it with {@code bash tools/bench/list-get-bench.sh}; options are {@code --name=value}:
 * {@code lengths} (comma separated, default {@code 10,100,1000}), {@code keys} (default 200),
 * {@code rounds} (reads of every key, default 5).
 */
public final class ListGetBenchmark {

    private static final int MAX_PARALLELISM = 128;

    private ListGetBenchmark() {}

    public static void main(String[] args) throws Exception {
        String lengths = "10,100,1000";
        int keys = 200;
        int rounds = 5;
        for (String arg : args) {
            String[] kv = arg.replaceFirst("^--", "").split("=", 2);
            switch (kv[0]) {
                case "lengths":
                    lengths = kv[1];
                    break;
                case "keys":
                    keys = Integer.parseInt(kv[1]);
                    break;
                case "rounds":
                    rounds = Integer.parseInt(kv[1]);
                    break;
                default:
                    throw new IllegalArgumentException("Unknown option " + arg);
            }
        }
        final PrintStream out = System.out;
        out.println("| appends per key | keys | µs per get | ns per element |");
        out.println("|---:|---:|---:|---:|");
        // a first pass warms up the JIT and the native library; its figures are not printed
        measure(100, 50, 2);
        for (String length : lengths.split(",")) {
            int appends = Integer.parseInt(length.trim());
            double nanosPerGet = measure(appends, keys, rounds);
            out.printf(
                    Locale.ROOT,
                    "| %d | %d | %.1f | %.1f |%n",
                    appends,
                    keys,
                    nanosPerGet / 1000.0,
                    nanosPerGet / appends);
        }
    }

    /** Returns the mean nanoseconds of one {@code get()} of a list of {@code appends} elements. */
    private static double measure(int appends, int keys, int rounds) throws Exception {
        final Path dir = Files.createTempDirectory("list-get-bench");
        final MockEnvironment env =
                MockEnvironment.builder()
                        .setManagedMemorySize(256L << 20)
                        .setMaxParallelism(MAX_PARALLELISM)
                        .build();
        final IncrementalRocksDBStateBackend stateBackend =
                new IncrementalRocksDBStateBackend().withLocalDirectories(dir.toString());
        final CloseableRegistry registry = new CloseableRegistry();
        final AbstractKeyedStateBackend<Integer> backend =
                stateBackend.createKeyedStateBackend(
                        new KeyedStateBackendParametersImpl<>(
                                env,
                                env.getJobID(),
                                "list-get-bench",
                                IntSerializer.INSTANCE,
                                MAX_PARALLELISM,
                                new KeyGroupRange(0, MAX_PARALLELISM - 1),
                                env.getTaskKvStateRegistry(),
                                TtlTimeProvider.DEFAULT,
                                new UnregisteredMetricsGroup(),
                                (name, value) -> {},
                                Collections.emptyList(),
                                registry,
                                1.0));
        try {
            final ListState<Long> list =
                    backend.getPartitionedState(
                            VoidNamespace.INSTANCE,
                            VoidNamespaceSerializer.INSTANCE,
                            new ListStateDescriptor<>("list", LongSerializer.INSTANCE));
            for (int key = 0; key < keys; key++) {
                backend.setCurrentKey(key);
                for (long i = 0; i < appends; i++) {
                    list.add(i);
                }
            }
            long checksum = 0;
            long nanos = 0;
            for (int round = 0; round < rounds; round++) {
                long start = System.nanoTime();
                for (int key = 0; key < keys; key++) {
                    backend.setCurrentKey(key);
                    for (Long element : list.get()) {
                        checksum += element;
                    }
                }
                nanos += System.nanoTime() - start;
            }
            long expected = (long) rounds * keys * ((long) appends * (appends - 1) / 2);
            if (checksum != expected) {
                throw new IllegalStateException(
                        "Read " + checksum + " as the sum of all elements, expected " + expected);
            }
            return (double) nanos / ((long) rounds * keys);
        } finally {
            backend.dispose();
            registry.close();
            env.close();
            FileUtils.deleteDirectory(dir.toFile());
        }
    }
}
