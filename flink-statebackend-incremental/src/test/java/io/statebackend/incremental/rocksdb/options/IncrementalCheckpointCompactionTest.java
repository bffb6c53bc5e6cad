package io.statebackend.incremental.rocksdb.options;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.rocksdb.options.ConfiguredOptionsInDatabaseTest.Opened;

import org.apache.flink.configuration.Configuration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The compaction defaults for incremental checkpoints reach the database when nobody chose, and
 * give way to a configured key, the predefined options, an options factory, or the switch.
 */
class IncrementalCheckpointCompactionTest {

    private static final String DYNAMIC = "level_compaction_dynamic_level_bytes";
    private static final String BASE = "max_bytes_for_level_base";
    private static final String TARGET = "target_file_size_base";
    private static final String MULTIPLIER = "max_bytes_for_level_multiplier";
    private static final String STYLE = "compaction_style";

    private static final String TUNED_BASE =
            String.valueOf(IncrementalCheckpointCompaction.MAX_SIZE_LEVEL_BASE.getBytes());
    private static final String TUNED_TARGET =
            String.valueOf(IncrementalCheckpointCompaction.TARGET_FILE_SIZE_BASE.getBytes());
    private static final String FLINK_BASE = String.valueOf(256L << 20);
    private static final String FLINK_TARGET = String.valueOf(64L << 20);

    @Test
    void defaultsApplyWhenSwitchedOnAndNobodyChose(@TempDir Path dir) throws Exception {
        OptionsFile options = optionsOf(switchedOn(), dir);
        assertThat(options.get(OptionsFile.CF, STYLE)).isEqualTo("kCompactionStyleLevel");
        assertThat(options.get(OptionsFile.CF, DYNAMIC)).isEqualTo("true");
        assertThat(options.get(OptionsFile.CF, BASE)).isEqualTo(TUNED_BASE);
        assertThat(options.get(OptionsFile.CF, TARGET)).isEqualTo(TUNED_TARGET);
        assertThat(Double.parseDouble(options.get(OptionsFile.CF, MULTIPLIER)))
                .isEqualTo(IncrementalCheckpointCompaction.LEVEL_SIZE_MULTIPLIER);
    }

    @Test
    void offByDefaultAndWhenSwitchedOff(@TempDir Path dir) throws Exception {
        assertFlinkDefaults(optionsOf(new Configuration(), dir.resolve("default")));
        Configuration config = new Configuration();
        config.set(IncrementalRocksDBOptions.COMPACTION_TUNED_FOR_INCREMENTAL_CHECKPOINTS, false);
        assertFlinkDefaults(optionsOf(config, dir.resolve("off")));
    }

    @Test
    void configuredKeysWin(@TempDir Path dir) throws Exception {
        Configuration config = switchedOn();
        config.setString(IncrementalRocksDBConfigurableOptions.TARGET_FILE_SIZE_BASE.key(), "8mb");
        config.setString(
                IncrementalRocksDBConfigurableOptions.USE_DYNAMIC_LEVEL_SIZE.key(), "false");
        OptionsFile options = optionsOf(config, dir);
        assertThat(options.get(OptionsFile.CF, TARGET)).isEqualTo(String.valueOf(8L << 20));
        assertThat(options.get(OptionsFile.CF, DYNAMIC)).isEqualTo("false");
        // the key nobody set keeps the default for incremental checkpoints
        assertThat(options.get(OptionsFile.CF, BASE)).isEqualTo(TUNED_BASE);
    }

    @Test
    void chosenCompactionStyleKeepsRocksDBsMultiplier(@TempDir Path dir) throws Exception {
        Configuration config = switchedOn();
        config.setString(IncrementalRocksDBConfigurableOptions.COMPACTION_STYLE.key(), "UNIVERSAL");
        OptionsFile options = optionsOf(config, dir);
        assertThat(options.get(OptionsFile.CF, STYLE)).isEqualTo("kCompactionStyleUniversal");
        assertThat(Double.parseDouble(options.get(OptionsFile.CF, MULTIPLIER))).isEqualTo(10.0);
    }

    @Test
    void predefinedOptionsWin(@TempDir Path dir) throws Exception {
        Configuration config = switchedOn();
        config.setString(
                IncrementalRocksDBConfigurableOptions.PREDEFINED_OPTIONS.key(),
                PredefinedOptions.SPINNING_DISK_OPTIMIZED_HIGH_MEM.name());
        OptionsFile options = optionsOf(config, dir);
        assertThat(options.get(OptionsFile.CF, BASE)).isEqualTo(String.valueOf(1L << 30));
        assertThat(options.get(OptionsFile.CF, TARGET)).isEqualTo(String.valueOf(256L << 20));
    }

    @Test
    void predefinedCompactionStyleKeepsRocksDBsMultiplier(@TempDir Path dir) throws Exception {
        Configuration config = switchedOn();
        config.setString(
                IncrementalRocksDBConfigurableOptions.PREDEFINED_OPTIONS.key(),
                PredefinedOptions.SPINNING_DISK_OPTIMIZED.name());
        OptionsFile options = optionsOf(config, dir);
        assertThat(Double.parseDouble(options.get(OptionsFile.CF, MULTIPLIER))).isEqualTo(10.0);
        // keys the profile does not set still get the defaults for incremental checkpoints
        assertThat(options.get(OptionsFile.CF, TARGET)).isEqualTo(TUNED_TARGET);
    }

    @Test
    void optionsFactoryTurnsTheDefaultsOff(@TempDir Path dir) throws Exception {
        Configuration config = switchedOn();
        config.setString(
                IncrementalRocksDBConfigurableOptions.OPTIONS_FACTORY.key(),
                OptionsFactoryTest.TestFactory.class.getName());
        OptionsFile options = optionsOf(config, dir);
        assertThat(options.get(OptionsFile.CF, DYNAMIC)).isEqualTo("false");
        assertThat(options.get(OptionsFile.CF, BASE)).isEqualTo(FLINK_BASE);
        assertThat(options.get(OptionsFile.CF, TARGET)).isEqualTo(FLINK_TARGET);
        assertThat(Double.parseDouble(options.get(OptionsFile.CF, MULTIPLIER))).isEqualTo(10.0);
    }

    private static Configuration switchedOn() {
        Configuration config = new Configuration();
        config.set(IncrementalRocksDBOptions.COMPACTION_TUNED_FOR_INCREMENTAL_CHECKPOINTS, true);
        return config;
    }

    private static void assertFlinkDefaults(OptionsFile options) {
        assertThat(options.get(OptionsFile.CF, STYLE)).isEqualTo("kCompactionStyleLevel");
        assertThat(options.get(OptionsFile.CF, DYNAMIC)).isEqualTo("false");
        assertThat(options.get(OptionsFile.CF, BASE)).isEqualTo(FLINK_BASE);
        assertThat(options.get(OptionsFile.CF, TARGET)).isEqualTo(FLINK_TARGET);
        assertThat(Double.parseDouble(options.get(OptionsFile.CF, MULTIPLIER))).isEqualTo(10.0);
    }

    private static OptionsFile optionsOf(Configuration config, Path dir) throws Exception {
        java.nio.file.Files.createDirectories(dir);
        File db = dir.resolve("db").toFile();
        try (Opened ignored = Opened.open(config, db, true)) {
            return OptionsFile.newestIn(db);
        }
    }
}
