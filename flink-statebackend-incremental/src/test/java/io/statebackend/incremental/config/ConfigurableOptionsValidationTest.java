package io.statebackend.incremental.config;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackendFactory;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every option of {@link IncrementalRocksDBConfigurableOptions} (Flink's RocksDB tuning keys)
 * rejects wrong values when the backend is configured, naming the key and the value.
 */
class ConfigurableOptionsValidationTest {

    private static final ClassLoader CL = ConfigurableOptionsValidationTest.class.getClassLoader();

    /** One wrong value of one option. */
    static final class WrongValue {
        final ConfigOption<?> option;
        final String value;

        WrongValue(ConfigOption<?> option, String value) {
            this.option = option;
            this.value = value;
        }

        Configuration toConfig() {
            Configuration config = new Configuration();
            config.setString(option.key(), value);
            return config;
        }

        @Override
        public String toString() {
            return option.key() + "=" + value;
        }
    }

    static List<WrongValue> wrongValues() {
        List<WrongValue> values = new ArrayList<>();
        add(values, IncrementalRocksDBConfigurableOptions.PREDEFINED_OPTIONS, "FAST", "");
        add(values, IncrementalRocksDBConfigurableOptions.OPTIONS_FACTORY, "com.example.Nope");
        add(values, IncrementalRocksDBConfigurableOptions.FIX_PER_TM_MEMORY_SIZE, "lots");
        add(values, IncrementalRocksDBConfigurableOptions.USE_PARTITIONED_INDEX_FILTERS, "yes");
        add(values, IncrementalRocksDBConfigurableOptions.MAX_BACKGROUND_THREADS, "0", "two");
        add(values, IncrementalRocksDBConfigurableOptions.MAX_OPEN_FILES, "0", "-2", "many");
        add(values, IncrementalRocksDBConfigurableOptions.LOG_MAX_FILE_SIZE, "big");
        add(values, IncrementalRocksDBConfigurableOptions.LOG_FILE_NUM, "0", "-1");
        add(values, IncrementalRocksDBConfigurableOptions.LOG_DIR, "relative/logs");
        add(values, IncrementalRocksDBConfigurableOptions.LOG_LEVEL, "LOUD");
        add(values, IncrementalRocksDBConfigurableOptions.COMPACTION_STYLE, "SIDEWAYS");
        add(values, IncrementalRocksDBConfigurableOptions.USE_DYNAMIC_LEVEL_SIZE, "maybe");
        add(
                values,
                IncrementalRocksDBConfigurableOptions.COMPRESSION_PER_LEVEL,
                "NO_COMPRESSION;GZIP");
        add(values, IncrementalRocksDBConfigurableOptions.TARGET_FILE_SIZE_BASE, "0", "x");
        add(values, IncrementalRocksDBConfigurableOptions.MAX_SIZE_LEVEL_BASE, "0", "x");
        add(values, IncrementalRocksDBConfigurableOptions.WRITE_BUFFER_SIZE, "0", "x");
        add(values, IncrementalRocksDBConfigurableOptions.MAX_WRITE_BUFFER_NUMBER, "0", "x");
        add(
                values,
                IncrementalRocksDBConfigurableOptions.MIN_WRITE_BUFFER_NUMBER_TO_MERGE,
                "0",
                "x");
        add(values, IncrementalRocksDBConfigurableOptions.BLOCK_SIZE, "0", "x");
        add(values, IncrementalRocksDBConfigurableOptions.METADATA_BLOCK_SIZE, "0", "x");
        add(values, IncrementalRocksDBConfigurableOptions.BLOCK_CACHE_SIZE, "0", "x");
        add(values, IncrementalRocksDBConfigurableOptions.USE_BLOOM_FILTER, "maybe");
        add(values, IncrementalRocksDBConfigurableOptions.BLOOM_FILTER_BITS_PER_KEY, "0", "x");
        add(values, IncrementalRocksDBConfigurableOptions.BLOOM_FILTER_BLOCK_BASED_MODE, "maybe");
        add(
                values,
                IncrementalRocksDBConfigurableOptions.RESTORE_OVERLAP_FRACTION_THRESHOLD,
                "1.5",
                "-0.1",
                "half");
        add(values, IncrementalRocksDBConfigurableOptions.USE_INGEST_DB_RESTORE_MODE, "maybe");
        add(
                values,
                IncrementalRocksDBConfigurableOptions
                        .INCREMENTAL_RESTORE_ASYNC_COMPACT_AFTER_RESCALE,
                "maybe");
        add(
                values,
                IncrementalRocksDBConfigurableOptions.USE_DELETE_FILES_IN_RANGE_DURING_RESCALING,
                "maybe");
        return values;
    }

    private static void add(List<WrongValue> values, ConfigOption<?> option, String... wrong) {
        for (String value : wrong) {
            values.add(new WrongValue(option, value));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("wrongValues")
    void configureRejectsWrongValue(WrongValue wrongValue) {
        assertThatThrownBy(
                        () ->
                                new IncrementalRocksDBStateBackend()
                                        .configure(wrongValue.toConfig(), CL))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'" + wrongValue.option.key() + "'")
                .hasMessageContaining("'" + wrongValue.value + "'");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("wrongValues")
    void factoryRejectsWrongValue(WrongValue wrongValue) {
        assertThatThrownBy(
                        () ->
                                new IncrementalRocksDBStateBackendFactory()
                                        .createFromConfig(wrongValue.toConfig(), CL))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'" + wrongValue.option.key() + "'");
    }

    /** A new option without a wrong-value case above makes this test fail. */
    @Test
    void everyOptionHasWrongValueCases() throws IllegalAccessException {
        Set<String> allKeys = new TreeSet<>();
        for (Field field : IncrementalRocksDBConfigurableOptions.class.getFields()) {
            if (Modifier.isStatic(field.getModifiers())
                    && ConfigOption.class.isAssignableFrom(field.getType())) {
                allKeys.add(((ConfigOption<?>) field.get(null)).key());
            }
        }
        Set<String> coveredKeys = new TreeSet<>();
        for (WrongValue wrongValue : wrongValues()) {
            coveredKeys.add(wrongValue.option.key());
        }
        assertThat(coveredKeys).isEqualTo(allKeys);
    }

    @Test
    void flinkValuesAreAccepted() {
        Configuration config = new Configuration();
        config.setString("state.backend.rocksdb.predefined-options", "FLASH_SSD_OPTIMIZED");
        config.setString(
                "state.backend.rocksdb.compression.per.level",
                "NO_COMPRESSION;NO_COMPRESSION;LZ4_COMPRESSION");
        config.setString("state.backend.rocksdb.log.level", "DEBUG_LEVEL");
        config.setString("state.backend.rocksdb.compaction.style", "FIFO");
        config.setString("state.backend.rocksdb.files.open", "-1");
        config.setString("state.backend.rocksdb.log.max-file-size", "0");
        config.setString("state.backend.rocksdb.restore-overlap-fraction-threshold", "1");
        config.setString("state.backend.rocksdb.memory.fixed-per-tm", "1gb");
        assertThatCode(() -> new IncrementalRocksDBStateBackend().configure(config, CL))
                .doesNotThrowAnyException();
    }

    /** Flink's deprecated name of the local directories still works. */
    @Test
    void deprecatedLocalDirectoryKeyIsRead() {
        Configuration config = new Configuration();
        config.setString("state.backend.rocksdb.checkpointdir", "/tmp/rocksdb-local");
        assertThat(
                        new IncrementalRocksDBStateBackend()
                                .configure(config, CL)
                                .getSettings()
                                .getLocalDirectories())
                .extracting(java.io.File::getPath)
                .containsExactly("/tmp/rocksdb-local");
    }
}
