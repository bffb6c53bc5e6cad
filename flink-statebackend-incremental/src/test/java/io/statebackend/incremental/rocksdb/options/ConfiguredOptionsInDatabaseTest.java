package io.statebackend.incremental.rocksdb.options;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBSettings;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.rocksdb.RocksDBMemoryResources;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import javax.annotation.Nullable;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every configured key of Flink's that shapes RocksDB reaches the database: with one non-default
 * value each, the {@code OPTIONS} file RocksDB writes (or a RocksDB property, where the file does
 * not record the option) shows the value.
 */
class ConfiguredOptionsInDatabaseTest {

    @TempDir static Path logDirectory;

    /** One key, one non-default value, and where the database shows it. */
    static final class Case {
        final ConfigOption<?> option;
        final String value;
        @Nullable final String section;
        final String name;
        final String expected;
        final boolean boundedMemory;
        final Map<String, String> otherEntries = new HashMap<>();

        Case(
                ConfigOption<?> option,
                String value,
                @Nullable String section,
                String name,
                String expected,
                boolean boundedMemory) {
            this.option = option;
            this.value = value;
            this.section = section;
            this.name = name;
            this.expected = expected;
            this.boundedMemory = boundedMemory;
        }

        /** Another key the case needs, set in both runs. */
        Case with(ConfigOption<?> other, String otherValue) {
            otherEntries.put(other.key(), otherValue);
            return this;
        }

        Configuration configuration(boolean withValue) {
            Configuration config = Configuration.fromMap(otherEntries);
            if (withValue) {
                config.setString(option.key(), value);
            }
            return config;
        }

        @Override
        public String toString() {
            return option.key()
                    + "="
                    + value
                    + (otherEntries.isEmpty() ? "" : " " + otherEntries)
                    + " -> "
                    + name
                    + "="
                    + expected;
        }
    }

    private static Case inFile(
            ConfigOption<?> option, String value, String section, String name, String expected) {
        return new Case(option, value, section, name, expected, false);
    }

    /** A blob file key, which takes effect only with blob files enabled. */
    private static Case blobCase(
            ConfigOption<?> option, String value, String name, String expected) {
        return inFile(option, value, OptionsFile.CF, name, expected)
                .with(IncrementalRocksDBOptions.BLOB_FILES_ENABLED, "true");
    }

    static List<Case> cases() {
        String logDir = logDirectory.toAbsolutePath().toString();
        return Arrays.asList(
                inFile(
                        IncrementalRocksDBConfigurableOptions.MAX_BACKGROUND_THREADS,
                        "5",
                        OptionsFile.DB,
                        "max_background_jobs",
                        "5"),
                inFile(
                        IncrementalRocksDBConfigurableOptions.MAX_OPEN_FILES,
                        "123",
                        OptionsFile.DB,
                        "max_open_files",
                        "123"),
                inFile(
                        IncrementalRocksDBConfigurableOptions.LOG_MAX_FILE_SIZE,
                        "1mb",
                        OptionsFile.DB,
                        "max_log_file_size",
                        "1048576"),
                inFile(
                        IncrementalRocksDBConfigurableOptions.LOG_FILE_NUM,
                        "7",
                        OptionsFile.DB,
                        "keep_log_file_num",
                        "7"),
                inFile(
                        IncrementalRocksDBConfigurableOptions.LOG_LEVEL,
                        "WARN_LEVEL",
                        OptionsFile.DB,
                        "info_log_level",
                        "WARN_LEVEL"),
                // RocksDB does not record db_log_dir in the OPTIONS file: the log file's place
                new Case(
                        IncrementalRocksDBConfigurableOptions.LOG_DIR,
                        logDir,
                        null,
                        "information log file in the log directory",
                        logDir,
                        false),
                inFile(
                        IncrementalRocksDBConfigurableOptions.COMPACTION_STYLE,
                        "UNIVERSAL",
                        OptionsFile.CF,
                        "compaction_style",
                        "kCompactionStyleUniversal"),
                // true is also the default for incremental checkpoints, off in both runs here
                inFile(
                                IncrementalRocksDBConfigurableOptions.USE_DYNAMIC_LEVEL_SIZE,
                                "true",
                                OptionsFile.CF,
                                "level_compaction_dynamic_level_bytes",
                                "true")
                        .with(
                                IncrementalRocksDBOptions
                                        .COMPACTION_TUNED_FOR_INCREMENTAL_CHECKPOINTS,
                                "false"),
                inFile(
                        IncrementalRocksDBConfigurableOptions.COMPRESSION_PER_LEVEL,
                        "NO_COMPRESSION;LZ4_COMPRESSION",
                        OptionsFile.CF,
                        "compression_per_level",
                        "kNoCompression:kLZ4Compression"),
                inFile(
                        IncrementalRocksDBConfigurableOptions.TARGET_FILE_SIZE_BASE,
                        "32mb",
                        OptionsFile.CF,
                        "target_file_size_base",
                        "33554432"),
                inFile(
                        IncrementalRocksDBConfigurableOptions.MAX_SIZE_LEVEL_BASE,
                        "128mb",
                        OptionsFile.CF,
                        "max_bytes_for_level_base",
                        "134217728"),
                inFile(
                        IncrementalRocksDBConfigurableOptions.WRITE_BUFFER_SIZE,
                        "8mb",
                        OptionsFile.CF,
                        "write_buffer_size",
                        "8388608"),
                inFile(
                        IncrementalRocksDBConfigurableOptions.MAX_WRITE_BUFFER_NUMBER,
                        "3",
                        OptionsFile.CF,
                        "max_write_buffer_number",
                        "3"),
                inFile(
                                IncrementalRocksDBConfigurableOptions
                                        .MIN_WRITE_BUFFER_NUMBER_TO_MERGE,
                                "2",
                                OptionsFile.CF,
                                "min_write_buffer_number_to_merge",
                                "2")
                        // RocksDB keeps it below the number of write buffers
                        .with(IncrementalRocksDBConfigurableOptions.MAX_WRITE_BUFFER_NUMBER, "4"),
                inFile(
                        IncrementalRocksDBConfigurableOptions.BLOCK_SIZE,
                        "16kb",
                        OptionsFile.TABLE,
                        "block_size",
                        "16384"),
                inFile(
                        IncrementalRocksDBConfigurableOptions.METADATA_BLOCK_SIZE,
                        "8kb",
                        OptionsFile.TABLE,
                        "metadata_block_size",
                        "8192"),
                // the OPTIONS file does not record the block cache; RocksDB's property does
                new Case(
                        IncrementalRocksDBConfigurableOptions.BLOCK_CACHE_SIZE,
                        "16mb",
                        null,
                        "rocksdb.block-cache-capacity",
                        "16777216",
                        false),
                inFile(
                        IncrementalRocksDBConfigurableOptions.USE_BLOOM_FILTER,
                        "true",
                        OptionsFile.TABLE,
                        "filter_policy",
                        "bloomfilter:10:false"),
                // on by default: the case turns it off
                inFile(
                        IncrementalRocksDBOptions.DATA_BLOCK_HASH_INDEX,
                        "false",
                        OptionsFile.TABLE,
                        "data_block_index_type",
                        "kDataBlockBinarySearch"),
                new Case(
                        IncrementalRocksDBConfigurableOptions.USE_PARTITIONED_INDEX_FILTERS,
                        "true",
                        OptionsFile.TABLE,
                        "index_type",
                        "kTwoLevelIndexSearch",
                        true),
                inFile(
                        IncrementalRocksDBOptions.BLOB_FILES_ENABLED,
                        "true",
                        OptionsFile.CF,
                        "enable_blob_files",
                        "true"),
                // values in blob files are compressed as in the last level: Flink's Snappy
                inFile(
                        IncrementalRocksDBOptions.BLOB_FILES_ENABLED,
                        "true",
                        OptionsFile.CF,
                        "blob_compression_type",
                        "kSnappyCompression"),
                blobCase(
                        IncrementalRocksDBConfigurableOptions.COMPRESSION_PER_LEVEL,
                        "NO_COMPRESSION;LZ4_COMPRESSION",
                        "blob_compression_type",
                        "kLZ4Compression"),
                blobCase(
                        IncrementalRocksDBOptions.BLOB_FILES_MIN_VALUE_SIZE,
                        "1kb",
                        "min_blob_size",
                        "1024"),
                blobCase(
                        IncrementalRocksDBOptions.BLOB_FILES_FILE_SIZE,
                        "2mb",
                        "blob_file_size",
                        "2097152"),
                blobCase(
                        IncrementalRocksDBOptions.BLOB_FILES_GC_AGE_CUTOFF,
                        "0.5",
                        "blob_garbage_collection_age_cutoff",
                        "0.500000"),
                // 0 turns the collection off
                blobCase(
                        IncrementalRocksDBOptions.BLOB_FILES_GC_AGE_CUTOFF,
                        "0",
                        "enable_blob_garbage_collection",
                        "false"),
                inFile(
                        IncrementalRocksDBOptions.MAX_MANIFEST_FILE_SIZE,
                        "1mb",
                        OptionsFile.DB,
                        "max_manifest_file_size",
                        "1048576"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void configuredValueReachesTheDatabase(Case c, @TempDir Path dir) throws Exception {
        File db = dir.resolve("db").toFile();
        try (Opened opened = Opened.open(c.configuration(true), db, c.boundedMemory)) {
            if (c.section != null) {
                assertThat(OptionsFile.newestIn(db).get(c.section, c.name))
                        .as(c.toString())
                        .isEqualTo(c.expected);
            } else if (c.option == IncrementalRocksDBConfigurableOptions.LOG_DIR) {
                String prefix = RocksDBOptionsContainer.relocatedLogPrefix(db.getAbsolutePath());
                assertThat(new File(c.expected, prefix)).as(c.toString()).isFile();
                assertThat(new File(db, "LOG")).doesNotExist();
            } else {
                assertThat(
                                opened.instance
                                        .getDb()
                                        .getLongProperty(
                                                opened.instance.getDefaultColumnFamily(), c.name))
                        .as(c.toString())
                        .isEqualTo(Long.parseLong(c.expected));
            }
        }
    }

    /**
     * The defaults must not already show the value the cases expect, or the cases prove nothing.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void defaultDiffersFromTheCase(Case c, @TempDir Path dir) throws Exception {
        File db = dir.resolve("db").toFile();
        try (Opened opened = Opened.open(c.configuration(false), db, c.boundedMemory)) {
            if (c.section != null) {
                assertThat(OptionsFile.newestIn(db).get(c.section, c.name))
                        .as(c.toString())
                        .isNotEqualTo(c.expected);
            } else if (c.option == IncrementalRocksDBConfigurableOptions.LOG_DIR) {
                assertThat(new File(db, "LOG")).isFile();
            } else {
                assertThat(
                                opened.instance
                                        .getDb()
                                        .getLongProperty(
                                                opened.instance.getDefaultColumnFamily(), c.name))
                        .isNotEqualTo(Long.parseLong(c.expected));
            }
        }
    }

    /** The shared block cache of bounded memory replaces the cache, not the rest of the table. */
    @Test
    void dataBlockHashIndexByDefaultWithBoundedMemory(@TempDir Path dir) throws Exception {
        File db = dir.resolve("db").toFile();
        try (Opened ignored = Opened.open(new Configuration(), db, true)) {
            assertThat(OptionsFile.newestIn(db).get(OptionsFile.TABLE, "data_block_index_type"))
                    .isEqualTo("kDataBlockBinaryAndHash");
        }
    }

    @Test
    void bloomFilterBitsPerKeyReachTheFilter(@TempDir Path dir) throws Exception {
        Configuration config = new Configuration();
        config.setString(IncrementalRocksDBConfigurableOptions.USE_BLOOM_FILTER.key(), "true");
        config.setString(
                IncrementalRocksDBConfigurableOptions.BLOOM_FILTER_BITS_PER_KEY.key(), "20");
        File db = dir.resolve("db").toFile();
        try (Opened ignored = Opened.open(config, db, false)) {
            assertThat(OptionsFile.newestIn(db).get(OptionsFile.TABLE, "filter_policy"))
                    .isEqualTo("bloomfilter:20:false");
        }
    }

    @Test
    void partitionedIndexFiltersAlsoPartitionTheFilters(@TempDir Path dir) throws Exception {
        Configuration config = new Configuration();
        config.setString(
                IncrementalRocksDBConfigurableOptions.USE_PARTITIONED_INDEX_FILTERS.key(), "true");
        File db = dir.resolve("db").toFile();
        try (Opened ignored = Opened.open(config, db, true)) {
            OptionsFile options = OptionsFile.newestIn(db);
            assertThat(options.get(OptionsFile.TABLE, "partition_filters")).isEqualTo("true");
            assertThat(options.get(OptionsFile.TABLE, "pin_top_level_index_and_filter"))
                    .isEqualTo("true");
        }
    }

    /** With managed or fixed memory, the slot's cache and write buffer manager stay in place. */
    @Test
    void memoryBoundsWinOverConfiguredBlockCache(@TempDir Path dir) throws Exception {
        Configuration config = new Configuration();
        config.setString(IncrementalRocksDBConfigurableOptions.BLOCK_CACHE_SIZE.key(), "16mb");
        File db = dir.resolve("db").toFile();
        try (Opened opened = Opened.open(config, db, true)) {
            assertThat(
                            opened.instance
                                    .getDb()
                                    .getLongProperty(
                                            opened.instance.getDefaultColumnFamily(),
                                            "rocksdb.block-cache-capacity"))
                    .isEqualTo(opened.memory.getCapacity());
            OptionsFile options = OptionsFile.newestIn(db);
            assertThat(options.get(OptionsFile.TABLE, "cache_index_and_filter_blocks"))
                    .isEqualTo("true");
            // without a configured size, memtables are sized from the memory and column families
            assertThat(options.get(OptionsFile.CF, "write_buffer_size"))
                    .isEqualTo(String.valueOf(opened.memory.getWriteBufferSize()));
        }
    }

    /** Keys of Flink's applied elsewhere than in the options of each database, and where. */
    private static final List<ConfigOption<?>> VERIFIED_ELSEWHERE =
            Arrays.asList(
                    // the instance directory: ConfigurationValidationTest, LocalRecoveryTest
                    IncrementalRocksDBOptions.LOCAL_DIRECTORIES,
                    // the timer service: RocksDBTimerQueueSuiteTest, HeapTimerQueueSuiteTest
                    IncrementalRocksDBOptions.TIMER_SERVICE_FACTORY,
                    IncrementalRocksDBOptions.TIMER_SERVICE_CACHE_SIZE,
                    // the transfer pool: RocksDBStateUploaderTest, RocksDBStateDownloaderTest
                    IncrementalRocksDBOptions.CHECKPOINT_TRANSFER_THREAD_NUM,
                    // the shared cache and write buffer manager: ManagedMemorySizingTest
                    IncrementalRocksDBOptions.USE_MANAGED_MEMORY,
                    IncrementalRocksDBOptions.FIX_PER_SLOT_MEMORY_SIZE,
                    IncrementalRocksDBOptions.WRITE_BUFFER_RATIO,
                    IncrementalRocksDBOptions.HIGH_PRIORITY_POOL_RATIO,
                    // FixedPerTaskManagerMemoryTest
                    IncrementalRocksDBConfigurableOptions.FIX_PER_TM_MEMORY_SIZE,
                    // write batches during restore: ConfigurationValidationTest
                    IncrementalRocksDBOptions.WRITE_BATCH_SIZE,
                    // PredefinedOptionsInDatabaseTest
                    IncrementalRocksDBConfigurableOptions.PREDEFINED_OPTIONS,
                    // OptionsFactoryTest
                    IncrementalRocksDBConfigurableOptions.OPTIONS_FACTORY,
                    // bloomFilterBitsPerKeyReachTheFilter above
                    IncrementalRocksDBConfigurableOptions.BLOOM_FILTER_BITS_PER_KEY,
                    // the restore, not the database's options: RescalingByFilesTest
                    IncrementalRocksDBConfigurableOptions.RESTORE_OVERLAP_FRACTION_THRESHOLD,
                    IncrementalRocksDBConfigurableOptions.USE_INGEST_DB_RESTORE_MODE,
                    IncrementalRocksDBConfigurableOptions
                            .INCREMENTAL_RESTORE_ASYNC_COMPACT_AFTER_RESCALE,
                    IncrementalRocksDBConfigurableOptions
                            .USE_DELETE_FILES_IN_RANGE_DURING_RESCALING);

    @Test
    void everyAppliedKeyHasACase() {
        Set<String> applied = new TreeSet<>();
        for (ConfigOption<?> option : FlinkRocksDBKeys.appliedOptions()) {
            applied.add(option.key());
        }
        Set<String> covered = new TreeSet<>();
        for (Case c : cases()) {
            covered.add(c.option.key());
        }
        for (ConfigOption<?> option : VERIFIED_ELSEWHERE) {
            covered.add(option.key());
        }
        // this backend's keys, not Flink's
        covered.remove(IncrementalRocksDBOptions.MAX_MANIFEST_FILE_SIZE.key());
        covered.remove(IncrementalRocksDBOptions.DATA_BLOCK_HASH_INDEX.key());
        covered.remove(IncrementalRocksDBOptions.BLOB_FILES_ENABLED.key());
        covered.remove(IncrementalRocksDBOptions.BLOB_FILES_MIN_VALUE_SIZE.key());
        covered.remove(IncrementalRocksDBOptions.BLOB_FILES_FILE_SIZE.key());
        covered.remove(IncrementalRocksDBOptions.BLOB_FILES_GC_AGE_CUTOFF.key());
        assertThat(covered).isEqualTo(applied);
    }

    /** A database opened the way the backend opens it, with the configuration's options. */
    static final class Opened implements AutoCloseable {
        static final long MEMORY = 64L << 20;

        final RocksDBInstance instance;
        @Nullable final RocksDBMemoryResources memory;

        private Opened(RocksDBInstance instance, @Nullable RocksDBMemoryResources memory) {
            this.instance = instance;
            this.memory = memory;
        }

        static Opened open(Configuration config, File db, boolean boundedMemory) throws Exception {
            IncrementalRocksDBSettings settings = IncrementalRocksDBSettings.fromConfig(config);
            RocksDBMemoryResources memory =
                    boundedMemory ? RocksDBMemoryResources.create(MEMORY, 0.5, 0.1) : null;
            RocksDBInstance instance =
                    RocksDBInstance.open(
                            db,
                            new RocksDBOptionsContainer(
                                    settings.getRocksDBOptions(),
                                    settings.getOptionsFactory(),
                                    memory,
                                    settings.getMaxManifestFileSize(),
                                    db),
                            Collections.emptyList(),
                            new ArrayList<>(),
                            false);
            return new Opened(instance, memory);
        }

        @Override
        public void close() {
            instance.close();
            if (memory != null) {
                memory.close();
            }
        }
    }
}
