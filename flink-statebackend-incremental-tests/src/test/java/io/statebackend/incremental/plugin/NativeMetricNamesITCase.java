package io.statebackend.incremental.plugin;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.contrib.streaming.state.RocksDBNativeMetricOptions;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.Collector;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * With every native metric switch of Flink 1.20 on, this backend (from the plugins directory)
 * registers exactly the RocksDB metrics Flink's {@code EmbeddedRocksDBStateBackend} registers for
 * the same job: the same identifiers below the operator's scope, so dashboards built for Flink's
 * backend work unchanged. Both jobs run on one MiniCluster, in one test.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NativeMetricNamesITCase {

    private static final String OPERATOR = "native-metrics-state";

    private static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setConfiguration(REPORTER.addToConfiguration(new Configuration()))
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(2)
                            .build());

    @TempDir static Path checkpointsRoot;

    @ParameterizedTest(name = "column family as variable: {0}")
    @ValueSource(booleans = {false, true})
    void sameNativeMetricsAsFlinksRocksDBBackend(
            boolean columnFamilyAsVariable, @InjectMiniCluster MiniCluster cluster)
            throws Throwable {
        final Set<String> flinks = run(cluster, Backend.FLINK_ROCKSDB, columnFamilyAsVariable);
        final Set<String> ours = run(cluster, Backend.INCREMENTAL, columnFamilyAsVariable);

        System.out.printf(
                "Native metrics (column family as variable: %s): %d from Flink's backend, %d from"
                        + " this one%n",
                columnFamilyAsVariable, flinks.size(), ours.size());
        // 33 properties for each of 4 column families (2 states, 2 timer queues), 11 tickers
        assertThat(flinks).hasSize(4 * 33 + 11);
        assertThat(ours).containsExactlyInAnyOrderElementsOf(flinks);
        final String valuesGroup = columnFamilyAsVariable ? "column_family.values." : "values.";
        assertThat(ours)
                .contains(
                        valuesGroup + "rocksdb.estimate-num-keys",
                        valuesGroup + "rocksdb.num-files-at-level6",
                        "rocksdb.block_cache_hit",
                        "rocksdb.compact_write_bytes");
    }

    /** Runs the job on {@code backend}; returns its native metrics' names below the subtask. */
    private static Set<String> run(
            MiniCluster cluster, Backend backend, boolean columnFamilyAsVariable) throws Throwable {
        final Configuration config =
                backend.configuration(Files.createTempDirectory(checkpointsRoot, "checkpoints-"));
        for (ConfigOption<Boolean> option : flinksSwitches()) {
            config.set(option, true);
        }
        config.set(RocksDBNativeMetricOptions.COLUMN_FAMILY_AS_VARIABLE, columnFamilyAsVariable);

        final StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(config);
        env.setParallelism(1);
        env.fromSequence(0, 999)
                .keyBy(value -> value % 10)
                .process(new StatefulFunction())
                .name(OPERATOR)
                .sinkTo(new DiscardingSink<>());
        final JobID job = cluster.submitJob(env.getStreamGraph().getJobGraph()).get().getJobID();
        StateKindsJob.awaitSuccess(cluster, job);

        final Set<String> names = new TreeSet<>();
        final List<String> identifiers = new ArrayList<>();
        for (Map.Entry<MetricGroup, Map<String, Metric>> group :
                REPORTER.getMetricsByGroup().entrySet()) {
            if (job.toString().equals(group.getKey().getAllVariables().get("<job_id>"))) {
                for (String metric : group.getValue().keySet()) {
                    identifiers.add(group.getKey().getMetricIdentifier(metric));
                }
            }
        }
        for (String identifier : identifiers) {
            final int operator = identifier.indexOf("." + OPERATOR + ".");
            if (operator < 0) {
                continue;
            }
            // <operator>.<subtask index>.<name>
            final String name =
                    identifier
                            .substring(operator + OPERATOR.length() + 2)
                            .replaceFirst("^[0-9]+\\.", "");
            if (name.contains("rocksdb.") && !name.startsWith("incrementalRocksDB.")) {
                names.add(name);
            }
        }
        return names;
    }

    /** Every boolean option of Flink's {@code RocksDBNativeMetricOptions}, but one. */
    private static List<ConfigOption<Boolean>> flinksSwitches() throws IllegalAccessException {
        final List<ConfigOption<Boolean>> switches = new ArrayList<>();
        for (Field field : RocksDBNativeMetricOptions.class.getFields()) {
            if (Modifier.isStatic(field.getModifiers())
                    && field.getType() == ConfigOption.class
                    && field.get(null) != RocksDBNativeMetricOptions.COLUMN_FAMILY_AS_VARIABLE) {
                @SuppressWarnings("unchecked")
                ConfigOption<Boolean> option = (ConfigOption<Boolean>) field.get(null);
                switches.add(option);
            }
        }
        assertThat(switches).hasSize(38);
        return switches;
    }

    /** Keeps a value and a list per key, and asks for a timer service (two more queues). */
    private static final class StatefulFunction extends KeyedProcessFunction<Long, Long, Long> {
        private transient ValueState<Long> values;
        private transient ListState<Long> list;

        @Override
        public void open(Configuration parameters) {
            values = getRuntimeContext().getState(new ValueStateDescriptor<>("values", Long.class));
            list = getRuntimeContext().getListState(new ListStateDescriptor<>("list", Long.class));
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<Long> out) throws Exception {
            values.update(value);
            list.add(value);
            ctx.timerService().registerProcessingTimeTimer(Long.MAX_VALUE);
            out.collect(value);
        }
    }
}
