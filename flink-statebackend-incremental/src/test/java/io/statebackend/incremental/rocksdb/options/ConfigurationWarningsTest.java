package io.statebackend.incremental.rocksdb.options;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBSettings;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** A key of Flink's without effect here, or overridden by the memory bounds, is named at start. */
class ConfigurationWarningsTest {

    private static List<String> warnings(Configuration config) {
        return ConfigurationWarnings.warningsFor(
                config, IncrementalRocksDBSettings.fromConfig(config));
    }

    @Test
    void defaultsWarnAboutNothing() {
        assertThat(warnings(new Configuration())).isEmpty();
    }

    @Test
    void everyNotApplicableKeyIsNamedWithWhatHappensInstead() {
        for (Map.Entry<ConfigOption<?>, String> entry :
                FlinkRocksDBKeys.notApplicableOptions().entrySet()) {
            Configuration config = new Configuration();
            String value = "true";
            config.setString(entry.getKey().key(), value);
            assertThat(warnings(config))
                    .singleElement()
                    .asString()
                    .contains("'" + entry.getKey().key() + "'")
                    .contains("'" + value + "'")
                    .contains(entry.getValue());
        }
    }

    @Test
    void blockCacheSizeIsOverriddenByManagedMemory() {
        Configuration config = new Configuration();
        config.setString(IncrementalRocksDBConfigurableOptions.BLOCK_CACHE_SIZE.key(), "1gb");
        assertThat(warnings(config))
                .singleElement()
                .asString()
                .contains("'state.backend.rocksdb.block.cache-size'")
                .contains("overridden")
                .contains("managed memory");

        config.setString(IncrementalRocksDBOptions.USE_MANAGED_MEMORY.key(), "false");
        assertThat(warnings(config)).isEmpty();

        config.setString(IncrementalRocksDBOptions.FIX_PER_SLOT_MEMORY_SIZE.key(), "128mb");
        assertThat(warnings(config))
                .singleElement()
                .asString()
                .contains("'state.backend.rocksdb.memory.fixed-per-slot'");
    }

    @Test
    void partitionedIndexFiltersNeedBoundedMemory() {
        Configuration config = new Configuration();
        config.setString(
                IncrementalRocksDBConfigurableOptions.USE_PARTITIONED_INDEX_FILTERS.key(), "true");
        assertThat(warnings(config)).isEmpty();
        config.setString(IncrementalRocksDBOptions.USE_MANAGED_MEMORY.key(), "false");
        assertThat(warnings(config))
                .singleElement()
                .asString()
                .contains("'state.backend.rocksdb.memory.partitioned-index-filters'");
    }

    @Test
    void nativeMetricSwitchesAreLeftToTheMetrics() {
        Configuration config = new Configuration();
        config.setString("state.backend.rocksdb.metrics.block-cache-usage", "true");
        assertThat(warnings(config)).isEmpty();
        assertThat(FlinkRocksDBKeys.handlingOf("state.backend.rocksdb.metrics.block-cache-usage"))
                .isEqualTo(FlinkRocksDBKeys.Handling.METRICS);
    }
}
