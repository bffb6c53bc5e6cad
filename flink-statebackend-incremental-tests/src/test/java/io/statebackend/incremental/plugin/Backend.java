package io.statebackend.incremental.plugin;

import org.apache.flink.configuration.Configuration;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The state backends the plugin tests run jobs on, as a cluster's configuration selects them. */
enum Backend {
    /** This backend, loaded from the plugins directory by the factory in the loader jar. */
    INCREMENTAL(
            "incremental (plugin)",
            FlinkHome.FACTORY_CLASS,
            "io.statebackend.incremental.state.RocksDBValueState",
            true),
    /** This backend with its timers on the heap instead of in RocksDB. */
    INCREMENTAL_HEAP_TIMERS(
            "incremental (plugin, heap timers)",
            FlinkHome.FACTORY_CLASS,
            "io.statebackend.incremental.state.RocksDBValueState",
            true),
    /** Flink's {@code EmbeddedRocksDBStateBackend} on FRocksDB, from the class path. */
    FLINK_ROCKSDB(
            "Flink's EmbeddedRocksDB",
            "rocksdb",
            "org.apache.flink.contrib.streaming.state.RocksDBValueState",
            false),
    /** Flink's {@code HashMapStateBackend}. */
    HASHMAP("HashMap", "hashmap", "org.apache.flink.runtime.state.heap.HeapValueState", false);

    private final String displayName;
    private final String stateBackendType;
    private final String valueStateClass;
    private final boolean fromPlugin;

    Backend(
            String displayName,
            String stateBackendType,
            String valueStateClass,
            boolean fromPlugin) {
        this.displayName = displayName;
        this.stateBackendType = stateBackendType;
        this.valueStateClass = valueStateClass;
        this.fromPlugin = fromPlugin;
    }

    /** The job configuration that selects this backend, with checkpoints in the given dir. */
    Configuration configuration(Path checkpointDir) {
        final Configuration config = StateKindsJob.configuration(stateBackendType, checkpointDir);
        if (this == INCREMENTAL_HEAP_TIMERS) {
            config.setString("state.backend.rocksdb.timer-service.factory", "HEAP");
        }
        return config;
    }

    /** Asserts from the classes of the job's keyed state that the job ran on this backend. */
    void assertJobRanOnIt(StateKindsJob.Run run) {
        assertThat(run.valueStateClasses)
                .as("value state classes of run %s", run.name)
                .singleElement()
                .satisfies(
                        stateClass -> {
                            assertThat(stateClass.getName()).isEqualTo(valueStateClass);
                            final ClassLoader loader = stateClass.getClassLoader();
                            if (fromPlugin) {
                                assertThat(loader.getClass().getName())
                                        .isEqualTo(
                                                "org.apache.flink.core.plugin.PluginLoader$PluginClassLoader");
                            } else {
                                assertThat(loader).isSameAs(Backend.class.getClassLoader());
                            }
                        });
    }

    @Override
    public String toString() {
        return displayName;
    }
}
