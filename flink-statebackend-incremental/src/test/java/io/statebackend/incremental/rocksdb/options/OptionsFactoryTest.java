package io.statebackend.incremental.rocksdb.options;

import io.statebackend.incremental.ConfigurableIncrementalRocksDBOptionsFactory;
import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBOptionsFactory;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.metrics.RocksDBNativeMetricOptions;
import io.statebackend.incremental.rocksdb.options.ConfiguredOptionsInDatabaseTest.Opened;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;

import java.io.File;
import java.nio.file.Path;
import java.util.Collection;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The options factory of {@code state.backend.rocksdb.options-factory} is applied after the
 * predefined options and the configured keys, and cannot undo what the backend needs.
 */
class OptionsFactoryTest {

    /** A setting of the factory's own, read through the configurable variant. */
    static final ConfigOption<Integer> LEVELS =
            ConfigOptions.key("test.options-factory.levels").intType().defaultValue(5);

    /** Sets options Flink's keys also set, and one they do not. */
    public static class TestFactory implements ConfigurableIncrementalRocksDBOptionsFactory {
        private static final long serialVersionUID = 1L;

        private int levels = LEVELS.defaultValue();

        @Override
        public DBOptions createDBOptions(
                DBOptions currentOptions, Collection<AutoCloseable> handlesToClose) {
            return currentOptions.setMaxBackgroundJobs(7).setCreateIfMissing(false);
        }

        @Override
        public ColumnFamilyOptions createColumnOptions(
                ColumnFamilyOptions currentOptions, Collection<AutoCloseable> handlesToClose) {
            BlockBasedTableConfig table =
                    (BlockBasedTableConfig) currentOptions.tableFormatConfig();
            return currentOptions
                    .setNumLevels(levels)
                    .setMaxWriteBufferNumber(6)
                    .setTableFormatConfig(table.setBlockSize(64 * 1024));
        }

        @Override
        public IncrementalRocksDBOptionsFactory configure(ReadableConfig configuration) {
            levels = configuration.get(LEVELS);
            return this;
        }
    }

    /** Not a factory at all. */
    public static class NotAFactory {}

    /** A factory the backend cannot instantiate. */
    public static class WithoutDefaultConstructor extends TestFactory {
        private static final long serialVersionUID = 1L;

        public WithoutDefaultConstructor(int unused) {}
    }

    @Test
    void factoryIsAppliedAfterProfileAndKeys(@TempDir Path dir) throws Exception {
        Configuration config = new Configuration();
        config.setString(
                IncrementalRocksDBConfigurableOptions.PREDEFINED_OPTIONS.key(),
                PredefinedOptions.SPINNING_DISK_OPTIMIZED_HIGH_MEM.name());
        config.setString(IncrementalRocksDBConfigurableOptions.MAX_BACKGROUND_THREADS.key(), "3");
        config.setString(IncrementalRocksDBConfigurableOptions.BLOCK_SIZE.key(), "8kb");
        config.setString(
                IncrementalRocksDBConfigurableOptions.OPTIONS_FACTORY.key(),
                TestFactory.class.getName());
        config.set(LEVELS, 4);
        File db = dir.resolve("db").toFile();
        try (Opened ignored = Opened.open(config, db, true)) {
            OptionsFile options = OptionsFile.newestIn(db);
            // the factory wins over the key and the profile
            assertThat(options.get(OptionsFile.DB, "max_background_jobs")).isEqualTo("7");
            assertThat(options.get(OptionsFile.TABLE, "block_size")).isEqualTo("65536");
            assertThat(options.get(OptionsFile.CF, "max_write_buffer_number")).isEqualTo("6");
            // configured through the configurable variant
            assertThat(options.get(OptionsFile.CF, "num_levels")).isEqualTo("4");
            // the profile still gives what neither the keys nor the factory set
            assertThat(options.get(OptionsFile.CF, "min_write_buffer_number_to_merge"))
                    .isEqualTo("3");
            // what the backend needs stays: the shared cache and the list merge operator
            assertThat(options.get(OptionsFile.TABLE, "cache_index_and_filter_blocks"))
                    .isEqualTo("true");
            assertThat(options.get(OptionsFile.CF, "merge_operator")).contains("StringAppend");
        }
    }

    @Test
    void backendInstanceTakesTheFactoryClass() {
        IncrementalRocksDBStateBackend backend =
                new IncrementalRocksDBStateBackend().withOptionsFactory(TestFactory.class);
        assertThat(backend.getSettings().getOptionsFactory()).isInstanceOf(TestFactory.class);
        assertThat(
                        backend.configure(new Configuration(), getClass().getClassLoader())
                                .getSettings()
                                .getOptionsFactory())
                .isInstanceOf(TestFactory.class);
    }

    @Test
    void missingClassFailsNamingKeyAndValue() {
        assertRejected("com.example.NoSuchFactory", "neither in plugins/statebackend-incremental/");
    }

    @Test
    void classThatIsNoFactoryFails() {
        assertRejected(NotAFactory.class.getName(), "does not implement");
    }

    @Test
    void classWithoutDefaultConstructorFails() {
        assertRejected(WithoutDefaultConstructor.class.getName(), "no constructor");
    }

    private static void assertRejected(String className, String reason) {
        Configuration config = new Configuration();
        config.setString(IncrementalRocksDBConfigurableOptions.OPTIONS_FACTORY.key(), className);
        assertThatThrownBy(
                        () ->
                                new IncrementalRocksDBStateBackend()
                                        .configure(
                                                config, OptionsFactoryTest.class.getClassLoader()))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'state.backend.rocksdb.options-factory'")
                .hasMessageContaining("'" + className + "'")
                .hasMessageContaining(reason);
    }

    @Test
    void factoryMayChangeTheNativeMetricSwitches() {
        Configuration config = new Configuration();
        config.set(RocksDBNativeMetricOptions.MONITOR_BACKGROUND_ERRORS, true);
        IncrementalRocksDBOptionsFactory factory =
                new TestFactory() {
                    @Override
                    public Configuration createNativeMetricsOptions(Configuration switches) {
                        assertThat(
                                        switches.get(
                                                RocksDBNativeMetricOptions
                                                        .MONITOR_BACKGROUND_ERRORS))
                                .isTrue();
                        switches.set(RocksDBNativeMetricOptions.MONITOR_BACKGROUND_ERRORS, false);
                        switches.set(RocksDBNativeMetricOptions.TRACK_COMPACTION_PENDING, true);
                        return switches;
                    }
                };

        assertThat(RocksDBNativeMetricOptions.fromConfig(config, null).getProperties())
                .containsExactly("rocksdb.background-errors");
        assertThat(RocksDBNativeMetricOptions.fromConfig(config, factory).getProperties())
                .containsExactly("rocksdb.compaction-pending");
    }
}
