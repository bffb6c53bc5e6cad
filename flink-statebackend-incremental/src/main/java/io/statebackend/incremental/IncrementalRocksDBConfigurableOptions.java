package io.statebackend.incremental;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.MemorySize;

import org.rocksdb.CompactionStyle;
import org.rocksdb.CompressionType;
import org.rocksdb.InfoLogLevel;

import java.util.List;

/**
 * The keys of Flink 1.20's RocksDB backend that shape RocksDB itself (its DB and column family
 * options, the predefined profiles, the options factory) or its restore, under the same names,
 * types and defaults, so that a {@code flink-conf.yaml} written for Flink's backend means the same
 * here. {@link io.statebackend.incremental.rocksdb.options.FlinkRocksDBKeys} says for every key of
 * Flink's how this backend honours it.
 */
public final class IncrementalRocksDBConfigurableOptions {

    // ------------------------------------------------------------------------
    //  profiles, factory, memory
    // ------------------------------------------------------------------------

    public static final ConfigOption<String> PREDEFINED_OPTIONS =
            ConfigOptions.key("state.backend.rocksdb.predefined-options")
                    .stringType()
                    .defaultValue("DEFAULT")
                    .withDescription(
                            "A profile of RocksDB options applied first, as in Flink: DEFAULT,"
                                    + " SPINNING_DISK_OPTIMIZED, SPINNING_DISK_OPTIMIZED_HIGH_MEM or"
                                    + " FLASH_SSD_OPTIMIZED. Configured keys and the options"
                                    + " factory are applied on top of it.");

    public static final ConfigOption<String> OPTIONS_FACTORY =
            ConfigOptions.key("state.backend.rocksdb.options-factory")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Class name of an io.statebackend.incremental.IncrementalRocksDBOptionsFactory"
                                    + " (upstream RocksDB classes) applied after the predefined"
                                    + " options and the configured keys. Put its jar into"
                                    + " plugins/statebackend-incremental/. A factory written for"
                                    + " Flink's RocksDBOptionsFactory is rejected with a hint how"
                                    + " to port it.");

    public static final ConfigOption<MemorySize> FIX_PER_TM_MEMORY_SIZE =
            ConfigOptions.key("state.backend.rocksdb.memory.fixed-per-tm")
                    .memoryType()
                    .noDefaultValue()
                    .withDescription(
                            "A fixed amount of memory per TaskManager shared by all RocksDB"
                                    + " instances of this backend on it (read from the"
                                    + " TaskManager's configuration). Used only when neither"
                                    + " managed memory nor a fixed size per slot is in use.");

    public static final ConfigOption<Boolean> USE_PARTITIONED_INDEX_FILTERS =
            ConfigOptions.key("state.backend.rocksdb.memory.partitioned-index-filters")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Partitions index and filter blocks, with a pinned top-level index,"
                                    + " so that only the partitions needed are loaded into the"
                                    + " block cache. Only with managed or fixed memory; an"
                                    + " existing filter becomes a full Bloom filter.");

    // ------------------------------------------------------------------------
    //  DB options
    // ------------------------------------------------------------------------

    public static final ConfigOption<Integer> MAX_BACKGROUND_THREADS =
            ConfigOptions.key("state.backend.rocksdb.thread.num")
                    .intType()
                    .defaultValue(2)
                    .withDescription(
                            "Maximum number of concurrent background flush and compaction jobs"
                                    + " per stateful operator. Larger than 0.");

    public static final ConfigOption<Integer> MAX_OPEN_FILES =
            ConfigOptions.key("state.backend.rocksdb.files.open")
                    .intType()
                    .defaultValue(-1)
                    .withDescription(
                            "Maximum number of files a RocksDB instance keeps open; -1 means no"
                                    + " limit.");

    public static final ConfigOption<MemorySize> LOG_MAX_FILE_SIZE =
            ConfigOptions.key("state.backend.rocksdb.log.max-file-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("25mb"))
                    .withDescription(
                            "Size at which RocksDB starts a new information log file; 0 writes"
                                    + " one file.");

    public static final ConfigOption<Integer> LOG_FILE_NUM =
            ConfigOptions.key("state.backend.rocksdb.log.file-num")
                    .intType()
                    .defaultValue(4)
                    .withDescription(
                            "Number of RocksDB information log files kept. Larger than 0.");

    public static final ConfigOption<String> LOG_DIR =
            ConfigOptions.key("state.backend.rocksdb.log.dir")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Absolute directory for RocksDB's information log files, named after"
                                    + " the database's path. If empty, they go next to the Flink"
                                    + " log file (the log.file system property) and are deleted"
                                    + " with the instance, or into the database directory when"
                                    + " there is no Flink log file.");

    public static final ConfigOption<InfoLogLevel> LOG_LEVEL =
            ConfigOptions.key("state.backend.rocksdb.log.level")
                    .enumType(InfoLogLevel.class)
                    .defaultValue(InfoLogLevel.INFO_LEVEL)
                    .withDescription(
                            "Level of RocksDB's information log: DEBUG_LEVEL, INFO_LEVEL,"
                                    + " WARN_LEVEL, ERROR_LEVEL, FATAL_LEVEL, HEADER_LEVEL or"
                                    + " NUM_INFO_LOG_LEVELS.");

    // ------------------------------------------------------------------------
    //  column family options
    // ------------------------------------------------------------------------

    public static final ConfigOption<CompactionStyle> COMPACTION_STYLE =
            ConfigOptions.key("state.backend.rocksdb.compaction.style")
                    .enumType(CompactionStyle.class)
                    .defaultValue(CompactionStyle.LEVEL)
                    .withDescription("Compaction style: LEVEL, UNIVERSAL, FIFO or NONE.");

    public static final ConfigOption<Boolean> USE_DYNAMIC_LEVEL_SIZE =
            ConfigOptions.key("state.backend.rocksdb.compaction.level.use-dynamic-size")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "RocksDB picks the target size of each level dynamically"
                                    + " (level_compaction_dynamic_level_bytes). When not set,"
                                    + " true while"
                                    + " state.backend.incremental-rocksdb.compaction"
                                    + ".tuned-for-incremental-checkpoints is on.");

    public static final ConfigOption<List<CompressionType>> COMPRESSION_PER_LEVEL =
            ConfigOptions.key("state.backend.rocksdb.compression.per.level")
                    .enumType(CompressionType.class)
                    .asList()
                    .defaultValues(CompressionType.SNAPPY_COMPRESSION)
                    .withDescription(
                            "Compression per level, separated by ';', for example"
                                    + " NO_COMPRESSION;NO_COMPRESSION;LZ4_COMPRESSION. The n-th"
                                    + " entry is level n-1; levels beyond the list use its last"
                                    + " entry.");

    public static final ConfigOption<MemorySize> TARGET_FILE_SIZE_BASE =
            ConfigOptions.key("state.backend.rocksdb.compaction.level.target-file-size-base")
                    .memoryType()
                    .defaultValue(MemorySize.parse("64mb"))
                    .withDescription(
                            "Target size of a level-1 file written by compaction. Larger than 0."
                                    + " When not set, 1mb while"
                                    + " state.backend.incremental-rocksdb.compaction"
                                    + ".tuned-for-incremental-checkpoints is on.");

    public static final ConfigOption<MemorySize> MAX_SIZE_LEVEL_BASE =
            ConfigOptions.key("state.backend.rocksdb.compaction.level.max-size-level-base")
                    .memoryType()
                    .defaultValue(MemorySize.parse("256mb"))
                    .withDescription(
                            "Upper bound of the total size of the base level's files. Larger than"
                                    + " 0. When not set, 4mb while"
                                    + " state.backend.incremental-rocksdb.compaction"
                                    + ".tuned-for-incremental-checkpoints is on.");

    public static final ConfigOption<MemorySize> WRITE_BUFFER_SIZE =
            ConfigOptions.key("state.backend.rocksdb.writebuffer.size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("64mb"))
                    .withDescription(
                            "Size of one memtable. When neither this key, the predefined"
                                    + " options nor an options factory set it and managed or fixed"
                                    + " memory is in use, the backend sizes the memtables from the"
                                    + " write buffer budget and the number of column families"
                                    + " sharing the slot's memory (a power of two or one and a half"
                                    + " times one, between 64kb and"
                                    + " 64mb), so that all memtables stay within the budget."
                                    + " Larger than 0.");

    public static final ConfigOption<Integer> MAX_WRITE_BUFFER_NUMBER =
            ConfigOptions.key("state.backend.rocksdb.writebuffer.count")
                    .intType()
                    .defaultValue(2)
                    .withDescription(
                            "Maximum number of memtables per column family. Larger than 0.");

    public static final ConfigOption<Integer> MIN_WRITE_BUFFER_NUMBER_TO_MERGE =
            ConfigOptions.key("state.backend.rocksdb.writebuffer.number-to-merge")
                    .intType()
                    .defaultValue(1)
                    .withDescription(
                            "Minimum number of memtables merged together before they are written"
                                    + " to a file; RocksDB keeps it below writebuffer.count."
                                    + " Larger than 0.");

    public static final ConfigOption<MemorySize> BLOCK_SIZE =
            ConfigOptions.key("state.backend.rocksdb.block.blocksize")
                    .memoryType()
                    .defaultValue(MemorySize.parse("4kb"))
                    .withDescription(
                            "Approximate size of user data packed per block. Larger than 0.");

    public static final ConfigOption<MemorySize> METADATA_BLOCK_SIZE =
            ConfigOptions.key("state.backend.rocksdb.block.metadata-blocksize")
                    .memoryType()
                    .defaultValue(MemorySize.parse("4kb"))
                    .withDescription(
                            "Approximate size of partitioned index blocks, with partitioned index"
                                    + " and filters. Larger than 0.");

    public static final ConfigOption<MemorySize> BLOCK_CACHE_SIZE =
            ConfigOptions.key("state.backend.rocksdb.block.cache-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("8mb"))
                    .withDescription(
                            "Size of the block cache of each column family. With managed or fixed"
                                    + " memory (the default) the slot's shared cache replaces it,"
                                    + " as in Flink. Larger than 0.");

    public static final ConfigOption<Boolean> USE_BLOOM_FILTER =
            ConfigOptions.key("state.backend.rocksdb.use-bloom-filter")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription("Every new SST file gets a Bloom filter.");

    public static final ConfigOption<Double> BLOOM_FILTER_BITS_PER_KEY =
            ConfigOptions.key("state.backend.rocksdb.bloom-filter.bits-per-key")
                    .doubleType()
                    .defaultValue(10.0)
                    .withDescription(
                            "Bits per key of the Bloom filter, when it is used. Larger than 0.");

    public static final ConfigOption<Boolean> BLOOM_FILTER_BLOCK_BASED_MODE =
            ConfigOptions.key("state.backend.rocksdb.bloom-filter.block-based-mode")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Not applicable: upstream RocksDB no longer builds block-based"
                                    + " filters, so the Bloom filter is always a full filter.");

    // ------------------------------------------------------------------------
    //  restore
    // ------------------------------------------------------------------------

    public static final ConfigOption<Double> RESTORE_OVERLAP_FRACTION_THRESHOLD =
            ConfigOptions.key("state.backend.rocksdb.restore-overlap-fraction-threshold")
                    .doubleType()
                    .defaultValue(0.0)
                    .withDescription(
                            "When rescaling by copying entries (file moving off, or no snapshot"
                                    + " qualifies): a snapshot is opened as the base database only"
                                    + " if at least this fraction of its key groups belongs to the"
                                    + " new range; otherwise the restore starts from an empty"
                                    + " database. Between 0 and 1.");

    public static final ConfigOption<Boolean> USE_INGEST_DB_RESTORE_MODE =
            ConfigOptions.key("state.backend.rocksdb.use-ingest-db-restore-mode")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "Whether rescaling moves SST files (export from the downloaded"
                                    + " snapshots, import into the new database, clip) instead of"
                                    + " copying entries. On by default here; Flink 1.20's own"
                                    + " backend defaults to false because FRocksDB cannot import"
                                    + " column families.");

    public static final ConfigOption<Boolean> INCREMENTAL_RESTORE_ASYNC_COMPACT_AFTER_RESCALE =
            ConfigOptions.key(
                            "state.backend.rocksdb.incremental-restore-async-compact-after-rescale")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Whether a rescaled backend compacts its key-group range on a"
                                    + " background thread after restore; the task does not wait.");

    public static final ConfigOption<Boolean> USE_DELETE_FILES_IN_RANGE_DURING_RESCALING =
            ConfigOptions.key("state.backend.rocksdb.rescaling.use-delete-files-in-range")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Whether rescaling first deletes the SST files that lie entirely"
                                    + " outside the new key-group range, before clipping.");

    private IncrementalRocksDBConfigurableOptions() {}
}
