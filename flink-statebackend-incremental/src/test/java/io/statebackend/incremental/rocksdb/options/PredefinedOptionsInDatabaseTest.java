package io.statebackend.incremental.rocksdb.options;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.rocksdb.options.ConfiguredOptionsInDatabaseTest.Opened;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.File;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The predefined profiles set in the database what Flink 1.20's profiles of the same names set, and
 * configured keys win over them.
 */
class PredefinedOptionsInDatabaseTest {

    /** One expected entry of the OPTIONS file (section, name, value) per key a profile sets. */
    private static final class Expected {
        final String section;
        final String name;
        final String value;

        Expected(String section, String name, String value) {
            this.section = section;
            this.name = name;
            this.value = value;
        }
    }

    private static Map<String, Expected> expectations(PredefinedOptions profile) {
        Map<String, Expected> expected = new LinkedHashMap<>();
        switch (profile) {
            case DEFAULT:
                break;
            case SPINNING_DISK_OPTIMIZED:
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.COMPACTION_STYLE,
                        OptionsFile.CF,
                        "compaction_style",
                        "kCompactionStyleLevel");
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.USE_DYNAMIC_LEVEL_SIZE,
                        OptionsFile.CF,
                        "level_compaction_dynamic_level_bytes",
                        "true");
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.MAX_BACKGROUND_THREADS,
                        OptionsFile.DB,
                        "max_background_jobs",
                        "4");
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.MAX_OPEN_FILES,
                        OptionsFile.DB,
                        "max_open_files",
                        "-1");
                break;
            case SPINNING_DISK_OPTIMIZED_HIGH_MEM:
                // the block cache is checked through RocksDB's property below
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.BLOCK_SIZE,
                        OptionsFile.TABLE,
                        "block_size",
                        "131072");
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.USE_DYNAMIC_LEVEL_SIZE,
                        OptionsFile.CF,
                        "level_compaction_dynamic_level_bytes",
                        "true");
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.MAX_BACKGROUND_THREADS,
                        OptionsFile.DB,
                        "max_background_jobs",
                        "4");
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.MAX_SIZE_LEVEL_BASE,
                        OptionsFile.CF,
                        "max_bytes_for_level_base",
                        "1073741824");
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.MAX_OPEN_FILES,
                        OptionsFile.DB,
                        "max_open_files",
                        "-1");
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.MAX_WRITE_BUFFER_NUMBER,
                        OptionsFile.CF,
                        "max_write_buffer_number",
                        "4");
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.MIN_WRITE_BUFFER_NUMBER_TO_MERGE,
                        OptionsFile.CF,
                        "min_write_buffer_number_to_merge",
                        "3");
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.TARGET_FILE_SIZE_BASE,
                        OptionsFile.CF,
                        "target_file_size_base",
                        "268435456");
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.WRITE_BUFFER_SIZE,
                        OptionsFile.CF,
                        "write_buffer_size",
                        "67108864");
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.USE_BLOOM_FILTER,
                        OptionsFile.TABLE,
                        "filter_policy",
                        "bloomfilter:10:false");
                break;
            case FLASH_SSD_OPTIMIZED:
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.MAX_BACKGROUND_THREADS,
                        OptionsFile.DB,
                        "max_background_jobs",
                        "4");
                put(
                        expected,
                        IncrementalRocksDBConfigurableOptions.MAX_OPEN_FILES,
                        OptionsFile.DB,
                        "max_open_files",
                        "-1");
                break;
            default:
                throw new AssertionError("a profile without expectations: " + profile);
        }
        return expected;
    }

    private static void put(
            Map<String, Expected> map,
            ConfigOption<?> option,
            String section,
            String name,
            String value) {
        map.put(option.key(), new Expected(section, name, value));
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(PredefinedOptions.class)
    void profileReachesTheDatabase(PredefinedOptions profile, @TempDir Path dir) throws Exception {
        Map<String, Expected> expected = expectations(profile);
        // every key the profile sets is checked, the block cache through the property
        assertThat(expected.keySet())
                .containsExactlyInAnyOrderElementsOf(
                        withoutBlockCache(profile.getValues().keySet()));

        Configuration config = new Configuration();
        config.setString(
                IncrementalRocksDBConfigurableOptions.PREDEFINED_OPTIONS.key(), profile.name());
        File db = dir.resolve("db").toFile();
        try (Opened opened = Opened.open(config, db, false)) {
            OptionsFile options = OptionsFile.newestIn(db);
            for (Map.Entry<String, Expected> entry : expected.entrySet()) {
                Expected e = entry.getValue();
                assertThat(options.get(e.section, e.name))
                        .as("%s: %s sets %s", profile, entry.getKey(), e.name)
                        .isEqualTo(e.value);
            }
            long expectedCache =
                    profile == PredefinedOptions.SPINNING_DISK_OPTIMIZED_HIGH_MEM
                            ? 256L << 20
                            : 8L << 20;
            assertThat(
                            opened.instance
                                    .getDb()
                                    .getLongProperty(
                                            opened.instance.getDefaultColumnFamily(),
                                            "rocksdb.block-cache-capacity"))
                    .isEqualTo(expectedCache);
        }
    }

    private static java.util.Set<String> withoutBlockCache(java.util.Set<String> keys) {
        java.util.Set<String> result = new java.util.TreeSet<>(keys);
        result.remove(IncrementalRocksDBConfigurableOptions.BLOCK_CACHE_SIZE.key());
        return result;
    }

    @Test
    void configuredKeyWinsOverProfile(@TempDir Path dir) throws Exception {
        Configuration config = new Configuration();
        config.setString(
                IncrementalRocksDBConfigurableOptions.PREDEFINED_OPTIONS.key(),
                PredefinedOptions.SPINNING_DISK_OPTIMIZED_HIGH_MEM.name());
        config.setString(IncrementalRocksDBConfigurableOptions.BLOCK_SIZE.key(), "32kb");
        config.setString(IncrementalRocksDBConfigurableOptions.MAX_BACKGROUND_THREADS.key(), "3");
        File db = dir.resolve("db").toFile();
        try (Opened ignored = Opened.open(config, db, false)) {
            OptionsFile options = OptionsFile.newestIn(db);
            assertThat(options.get(OptionsFile.TABLE, "block_size")).isEqualTo("32768");
            assertThat(options.get(OptionsFile.DB, "max_background_jobs")).isEqualTo("3");
            // what the key does not set still comes from the profile
            assertThat(options.get(OptionsFile.CF, "max_write_buffer_number")).isEqualTo("4");
        }
    }

    @Test
    void unknownProfileFailsNamingKeyAndValue() {
        Configuration config = new Configuration();
        config.setString(
                IncrementalRocksDBConfigurableOptions.PREDEFINED_OPTIONS.key(), "SSD_PLEASE");
        assertThatThrownBy(() -> ConfiguredRocksDBOptions.fromConfig(config))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'state.backend.rocksdb.predefined-options'")
                .hasMessageContaining("'SSD_PLEASE'");
    }
}
