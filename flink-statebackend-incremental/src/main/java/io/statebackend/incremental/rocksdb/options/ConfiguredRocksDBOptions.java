package io.statebackend.incremental.rocksdb.options;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.ReadableConfig;

import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompactionStyle;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.DataBlockIndexType;
import org.rocksdb.InfoLogLevel;

import javax.annotation.Nullable;

import java.io.File;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.BLOCK_CACHE_SIZE;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.BLOCK_SIZE;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.BLOOM_FILTER_BITS_PER_KEY;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.BLOOM_FILTER_BLOCK_BASED_MODE;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.COMPACTION_STYLE;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.COMPRESSION_PER_LEVEL;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.FIX_PER_TM_MEMORY_SIZE;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.INCREMENTAL_RESTORE_ASYNC_COMPACT_AFTER_RESCALE;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.LOG_DIR;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.LOG_FILE_NUM;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.LOG_LEVEL;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.LOG_MAX_FILE_SIZE;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.MAX_BACKGROUND_THREADS;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.MAX_OPEN_FILES;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.MAX_SIZE_LEVEL_BASE;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.MAX_WRITE_BUFFER_NUMBER;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.METADATA_BLOCK_SIZE;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.MIN_WRITE_BUFFER_NUMBER_TO_MERGE;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.RESTORE_OVERLAP_FRACTION_THRESHOLD;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.TARGET_FILE_SIZE_BASE;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.USE_BLOOM_FILTER;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.USE_DELETE_FILES_IN_RANGE_DURING_RESCALING;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.USE_DYNAMIC_LEVEL_SIZE;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.USE_INGEST_DB_RESTORE_MODE;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.USE_PARTITIONED_INDEX_FILTERS;
import static io.statebackend.incremental.IncrementalRocksDBConfigurableOptions.WRITE_BUFFER_SIZE;

/**
 * The RocksDB options that the configuration sets, resolved once from the predefined profile and
 * the configured keys (a configured key wins) and validated, so that a wrong value fails when the
 * backend is configured. Immutable; applied to every database the backend opens.
 */
public final class ConfiguredRocksDBOptions implements Serializable {

    private static final long serialVersionUID = 1L;

    private final PredefinedOptions predefinedOptions;
    private final IncrementalCheckpointCompaction checkpointCompaction;

    private final int maxBackgroundThreads;
    private final int maxOpenFiles;
    private final InfoLogLevel logLevel;
    private final long logMaxFileSize;
    private final int logFileNum;
    @Nullable private final String logDir;

    private final CompactionStyle compactionStyle;
    private final boolean dynamicLevelSize;
    private final List<CompressionType> compressionPerLevel;
    private final long targetFileSizeBase;
    private final long maxSizeLevelBase;

    /** Null keeps RocksDB's multiplier. */
    @Nullable private final Double levelSizeMultiplier;

    /** Null when neither the profile nor the configuration sets it: the backend then chooses. */
    @Nullable private final Long writeBufferSize;

    private final int maxWriteBufferNumber;
    private final int minWriteBufferNumberToMerge;
    private final long blockSize;
    private final long metadataBlockSize;
    private final long blockCacheSize;
    private final boolean useBloomFilter;
    private final boolean dataBlockHashIndex;
    private final double bloomFilterBitsPerKey;
    private final boolean partitionedIndexFilters;
    private final BlobFileOptions blobFiles;

    private ConfiguredRocksDBOptions(ReadableConfig config) {
        this.predefinedOptions = readPredefinedOptions(config);
        this.checkpointCompaction = IncrementalCheckpointCompaction.of(config, predefinedOptions);

        this.maxBackgroundThreads = positive(config, MAX_BACKGROUND_THREADS);
        this.maxOpenFiles = value(config, MAX_OPEN_FILES);
        if (maxOpenFiles < -1 || maxOpenFiles == 0) {
            throw ConfigValues.invalid(
                    MAX_OPEN_FILES,
                    ConfigValues.rawValue(config, MAX_OPEN_FILES),
                    "it must be -1 (no limit) or larger than 0");
        }
        this.logLevel = value(config, LOG_LEVEL);
        this.logMaxFileSize = value(config, LOG_MAX_FILE_SIZE).getBytes();
        this.logFileNum = positive(config, LOG_FILE_NUM);
        String dir = value(config, LOG_DIR);
        if (dir != null && !dir.isEmpty() && !new File(dir).isAbsolute()) {
            throw ConfigValues.invalid(LOG_DIR, dir, "it must be an absolute path");
        }
        this.logDir = dir == null || dir.isEmpty() ? null : dir;

        this.compactionStyle = value(config, COMPACTION_STYLE);
        this.dynamicLevelSize = value(config, USE_DYNAMIC_LEVEL_SIZE);
        List<CompressionType> compression = value(config, COMPRESSION_PER_LEVEL);
        if (compression == null || compression.isEmpty()) {
            throw ConfigValues.invalid(
                    COMPRESSION_PER_LEVEL,
                    ConfigValues.rawValue(config, COMPRESSION_PER_LEVEL),
                    "it must name at least one compression type");
        }
        this.compressionPerLevel = Collections.unmodifiableList(new ArrayList<>(compression));
        this.targetFileSizeBase = positiveSize(config, TARGET_FILE_SIZE_BASE);
        this.maxSizeLevelBase = positiveSize(config, MAX_SIZE_LEVEL_BASE);
        this.levelSizeMultiplier = checkpointCompaction.levelSizeMultiplier();
        this.writeBufferSize =
                ConfigValues.isSet(config, WRITE_BUFFER_SIZE)
                                || predefinedOptions.getValue(WRITE_BUFFER_SIZE) != null
                        ? positiveSize(config, WRITE_BUFFER_SIZE)
                        : null;
        this.maxWriteBufferNumber = positive(config, MAX_WRITE_BUFFER_NUMBER);
        this.minWriteBufferNumberToMerge = positive(config, MIN_WRITE_BUFFER_NUMBER_TO_MERGE);
        this.blockSize = positiveSize(config, BLOCK_SIZE);
        this.metadataBlockSize = positiveSize(config, METADATA_BLOCK_SIZE);
        this.blockCacheSize = positiveSize(config, BLOCK_CACHE_SIZE);
        this.useBloomFilter = value(config, USE_BLOOM_FILTER);
        this.dataBlockHashIndex =
                ConfigValues.read(config, IncrementalRocksDBOptions.DATA_BLOCK_HASH_INDEX);
        this.bloomFilterBitsPerKey = value(config, BLOOM_FILTER_BITS_PER_KEY);
        if (!(bloomFilterBitsPerKey > 0.0) || Double.isInfinite(bloomFilterBitsPerKey)) {
            throw ConfigValues.invalid(
                    BLOOM_FILTER_BITS_PER_KEY,
                    ConfigValues.rawValue(config, BLOOM_FILTER_BITS_PER_KEY),
                    "it must be larger than 0");
        }
        this.partitionedIndexFilters = value(config, USE_PARTITIONED_INDEX_FILTERS);
        this.blobFiles = BlobFileOptions.fromConfig(config);

        // validated here; block-based mode has no counterpart, the restore keys are read by the
        // restore (RestoreSettings)
        value(config, BLOOM_FILTER_BLOCK_BASED_MODE);
        double overlap = value(config, RESTORE_OVERLAP_FRACTION_THRESHOLD);
        if (!(overlap >= 0.0 && overlap <= 1.0)) {
            throw ConfigValues.invalid(
                    RESTORE_OVERLAP_FRACTION_THRESHOLD,
                    ConfigValues.rawValue(config, RESTORE_OVERLAP_FRACTION_THRESHOLD),
                    "it must be a fraction between 0 and 1");
        }
        value(config, USE_INGEST_DB_RESTORE_MODE);
        value(config, INCREMENTAL_RESTORE_ASYNC_COMPACT_AFTER_RESCALE);
        value(config, USE_DELETE_FILES_IN_RANGE_DURING_RESCALING);
        value(config, FIX_PER_TM_MEMORY_SIZE);
    }

    /**
     * Resolves and validates the RocksDB options of the configuration.
     *
     * @throws org.apache.flink.configuration.IllegalConfigurationException naming the key and the
     *     value of the first wrong entry
     */
    public static ConfiguredRocksDBOptions fromConfig(ReadableConfig config) {
        return new ConfiguredRocksDBOptions(config);
    }

    public PredefinedOptions getPredefinedOptions() {
        return predefinedOptions;
    }

    /**
     * Whether the compaction defaults for incremental checkpoints apply (to some keys at least).
     */
    public boolean isTunedForIncrementalCheckpoints() {
        return checkpointCompaction.isActive();
    }

    /** Whether values go into blob files, apart from the keys. */
    public boolean isBlobFilesEnabled() {
        return blobFiles.isEnabled();
    }

    public boolean isPartitionedIndexFilters() {
        return partitionedIndexFilters;
    }

    /** The configured log directory; null means next to Flink's log or in the database. */
    @Nullable
    public String getLogDir() {
        return logDir;
    }

    /** Whether a configured key or the predefined options chose the write buffer size. */
    public boolean hasWriteBufferSize() {
        return writeBufferSize != null;
    }

    /** Applies the DB options of the profile and the configuration. */
    public void applyTo(DBOptions options) {
        options.setMaxBackgroundJobs(maxBackgroundThreads)
                .setMaxOpenFiles(maxOpenFiles)
                .setInfoLogLevel(logLevel)
                .setMaxLogFileSize(logMaxFileSize)
                .setKeepLogFileNum(logFileNum);
        if (logDir != null) {
            options.setDbLogDir(logDir);
        }
    }

    /**
     * Applies the column family options of the profile and the configuration, with a new
     * block-based table configuration.
     *
     * @param defaultWriteBufferSize the memtable size when neither profile nor key sets one
     * @param handlesToClose receives the native objects created here (the Bloom filter)
     */
    public void applyTo(
            ColumnFamilyOptions options,
            long defaultWriteBufferSize,
            Collection<AutoCloseable> handlesToClose) {
        options.setCompactionStyle(compactionStyle)
                .setCompressionPerLevel(compressionPerLevel)
                .setLevelCompactionDynamicLevelBytes(dynamicLevelSize)
                .setTargetFileSizeBase(targetFileSizeBase)
                .setMaxBytesForLevelBase(maxSizeLevelBase)
                .setWriteBufferSize(
                        writeBufferSize != null ? writeBufferSize : defaultWriteBufferSize)
                .setMaxWriteBufferNumber(maxWriteBufferNumber)
                .setMinWriteBufferNumberToMerge(minWriteBufferNumberToMerge);
        if (levelSizeMultiplier != null) {
            options.setMaxBytesForLevelMultiplier(levelSizeMultiplier);
        }

        BlockBasedTableConfig table =
                new BlockBasedTableConfig()
                        .setBlockSize(blockSize)
                        .setMetadataBlockSize(metadataBlockSize)
                        .setBlockCacheSize(blockCacheSize);
        if (dataBlockHashIndex) {
            table.setDataBlockIndexType(DataBlockIndexType.kDataBlockBinaryAndHash);
        }
        if (useBloomFilter) {
            BloomFilter filter = new BloomFilter(bloomFilterBitsPerKey);
            handlesToClose.add(filter);
            table.setFilterPolicy(filter);
        }
        options.setTableFormatConfig(table);
        blobFiles.applyTo(options, compressionPerLevel.get(compressionPerLevel.size() - 1));
    }

    // ------------------------------------------------------------------------

    private static PredefinedOptions readPredefinedOptions(ReadableConfig config) {
        String name =
                ConfigValues.read(config, IncrementalRocksDBConfigurableOptions.PREDEFINED_OPTIONS);
        try {
            return PredefinedOptions.valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw ConfigValues.invalid(
                    IncrementalRocksDBConfigurableOptions.PREDEFINED_OPTIONS,
                    name,
                    "it must be one of DEFAULT, SPINNING_DISK_OPTIMIZED,"
                            + " SPINNING_DISK_OPTIMIZED_HIGH_MEM or FLASH_SSD_OPTIMIZED");
        }
    }

    /**
     * Configured value, else the profile's, else the default for incremental checkpoints if there
     * is one and it applies, else the option's default.
     */
    private <T> T value(ReadableConfig config, ConfigOption<T> option) {
        if (ConfigValues.isSet(config, option)) {
            return ConfigValues.read(config, option);
        }
        T predefined = predefinedOptions.getValue(option);
        if (predefined != null) {
            return predefined;
        }
        T tuned = checkpointCompaction.defaultFor(option);
        return tuned != null ? tuned : option.defaultValue();
    }

    private int positive(ReadableConfig config, ConfigOption<Integer> option) {
        int value = value(config, option);
        if (value <= 0) {
            throw ConfigValues.invalid(
                    option, ConfigValues.rawValue(config, option), "it must be larger than 0");
        }
        return value;
    }

    private long positiveSize(ReadableConfig config, ConfigOption<MemorySize> option) {
        long bytes = value(config, option).getBytes();
        if (bytes <= 0) {
            throw ConfigValues.invalid(
                    option, ConfigValues.rawValue(config, option), "it must be larger than 0");
        }
        return bytes;
    }
}
