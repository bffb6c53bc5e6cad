package io.statebackend.incremental.rocksdb.options;

import io.statebackend.incremental.IncrementalRocksDBOptionsFactory;
import io.statebackend.incremental.rocksdb.BackgroundErrorsFailFast;
import io.statebackend.incremental.rocksdb.RocksDBMemoryResources;

import org.apache.flink.util.IOUtils;
import org.apache.flink.util.Preconditions;

import org.rocksdb.AbstractEventListener;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.ConfigOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.IndexType;
import org.rocksdb.ReadOptions;
import org.rocksdb.TableFormatConfig;
import org.rocksdb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.annotation.Nullable;

import java.io.File;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * Builds the options of one RocksDB database in Flink's order: the predefined profile, then the
 * configured keys, then the options factory; last, what this backend cannot do without (the shared
 * block cache and write buffer manager that keep RocksDB within the slot's memory, a small
 * MANIFEST, total-order iteration). Owns every native object it creates and closes them with {@link
 * #close()}, after the database.
 */
public final class RocksDBOptionsContainer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RocksDBOptionsContainer.class);

    /** Memtable size without memory bounds, Flink's default. */
    static final long DEFAULT_WRITE_BUFFER_SIZE = 64L << 20;

    /** How Flink's timer services name their queues ({@code InternalTimeServiceManagerImpl}). */
    static final String TIMER_STATE_PREFIX = "_timer_state/";

    private static final String RELOCATED_LOG_SUFFIX = "_LOG";

    /** File names are limited to 255 characters; RocksDB's log name is derived from the path. */
    private static final int RELOCATED_LOG_PATH_LIMIT = 255 - RELOCATED_LOG_SUFFIX.length();

    private final ConfiguredRocksDBOptions configured;
    @Nullable private final IncrementalRocksDBOptionsFactory factory;
    @Nullable private final RocksDBMemoryResources memory;
    private final long maxManifestFileSize;
    private final File dbPath;
    private final List<AutoCloseable> handlesToClose = new ArrayList<>();

    /**
     * The key-group prefix length of the keys of Flink's timer queues, whose column families get an
     * insert hint per key group; 0 for none.
     */
    private int timerKeyGroupPrefixBytes;

    /** Told of the database's table files; owned by whoever passed it in. */
    @Nullable private AbstractEventListener eventListener;

    /** Where RocksDB's information log was moved to (next to Flink's log), to clean it up. */
    @Nullable private File relocatedLogDir;

    public RocksDBOptionsContainer(
            ConfiguredRocksDBOptions configured,
            @Nullable IncrementalRocksDBOptionsFactory factory,
            @Nullable RocksDBMemoryResources memory,
            long maxManifestFileSize,
            File dbPath) {
        this.configured = Preconditions.checkNotNull(configured, "configured options");
        this.factory = factory;
        this.memory = memory;
        this.maxManifestFileSize = maxManifestFileSize;
        this.dbPath = Preconditions.checkNotNull(dbPath, "database path");
    }

    /** The DB options of the database; closed with this container. */
    public DBOptions createDBOptions() {
        DBOptions options = new DBOptions().setUseFsync(false).setStatsDumpPeriodSec(0);
        handlesToClose.add(options);
        configured.applyTo(options);
        if (configured.getLogDir() == null) {
            relocateLog(options);
        }
        // the MANIFEST is part of every incremental checkpoint; the factory may still change it
        options.setMaxManifestFileSize(maxManifestFileSize);
        if (factory != null) {
            options = track(factory.createDBOptions(options, handlesToClose));
        }
        options.setCreateIfMissing(true)
                .setCreateMissingColumnFamilies(true)
                .setAvoidFlushDuringShutdown(true);
        if (memory != null) {
            options.setWriteBufferManager(memory.getWriteBufferManager());
        }
        // beside any listener an options factory registered
        final List<AbstractEventListener> listeners = new ArrayList<>(options.listeners());
        final BackgroundErrorsFailFast failFast = new BackgroundErrorsFailFast(dbPath);
        handlesToClose.add(failFast);
        listeners.add(failFast);
        if (eventListener != null) {
            listeners.add(eventListener);
        }
        options.setListeners(listeners);
        return options;
    }

    /** Registers the listener with the database options this container creates. */
    public RocksDBOptionsContainer withEventListener(AbstractEventListener listener) {
        this.eventListener = Preconditions.checkNotNull(listener);
        return this;
    }

    /**
     * Gives the column families of Flink's timer services a memtable insert hint per key group:
     * their keys are the key group followed by the timer's timestamp, and timers mostly come in
     * time order within a key group, so an insert starts where the last one of its key group ended
     * instead of searching the skip list from its top. The hint's splice lives in the memtable's
     * arena, about 200 bytes per key group that received a timer.
     */
    public RocksDBOptionsContainer withTimerInsertHints(int keyGroupPrefixBytes) {
        Preconditions.checkArgument(
                keyGroupPrefixBytes >= 1 && keyGroupPrefixBytes <= 2,
                "The key-group prefix has 1 or 2 bytes, not %s",
                keyGroupPrefixBytes);
        this.timerKeyGroupPrefixBytes = keyGroupPrefixBytes;
        return this;
    }

    /** Options for the column family of the given name; closed with this container. */
    public ColumnFamilyOptions createColumnOptions(String columnFamilyName) {
        ColumnFamilyOptions options = baseColumnOptions(columnFamilyName);
        handlesToClose.add(options);
        configured.applyTo(options, defaultWriteBufferSize(), handlesToClose);
        if (factory != null) {
            options = track(factory.createColumnOptions(options, handlesToClose));
        }
        if (memory != null) {
            useSharedBlockCache(options);
        }
        return options;
    }

    /** RocksDB's defaults, with the insert hint for a timer queue's column family. */
    private ColumnFamilyOptions baseColumnOptions(String columnFamilyName) {
        if (timerKeyGroupPrefixBytes == 0 || !isTimerQueue(columnFamilyName)) {
            return new ColumnFamilyOptions();
        }
        // the Java API has no setter for this option; RocksDB's defaults plus this one property
        Properties hint = new Properties();
        hint.setProperty(
                "memtable_insert_with_hint_prefix_extractor",
                "rocksdb.FixedPrefix." + timerKeyGroupPrefixBytes);
        try (ConfigOptions parsing = new ConfigOptions()) {
            ColumnFamilyOptions options =
                    ColumnFamilyOptions.getColumnFamilyOptionsFromProps(parsing, hint);
            if (options == null) {
                throw new IllegalStateException("RocksDB rejected the options " + hint);
            }
            return options;
        }
    }

    /** Whether the column family holds the timers of one of Flink's timer services. */
    static boolean isTimerQueue(String columnFamilyName) {
        return columnFamilyName.startsWith(TIMER_STATE_PREFIX);
    }

    /** Write options; the write-ahead log is off because checkpoints give durability. */
    public WriteOptions createWriteOptions() {
        WriteOptions options = new WriteOptions().setDisableWAL(true);
        handlesToClose.add(options);
        if (factory != null) {
            options = track(factory.createWriteOptions(options, handlesToClose));
        }
        return options;
    }

    /** Read options; iterators must see every key, whatever prefix extractor is configured. */
    public ReadOptions createReadOptions() {
        ReadOptions options = new ReadOptions();
        handlesToClose.add(options);
        if (factory != null) {
            options = track(factory.createReadOptions(options, handlesToClose));
        }
        return options.setTotalOrderSeek(true);
    }

    /** The slot's memory resources if RocksDB's memory is bounded, else null. */
    @Nullable
    public RocksDBMemoryResources getMemory() {
        return memory;
    }

    /**
     * Whether the write buffers are sized from the bounded memory and the number of column families
     * sharing it: only when neither a configured key, the predefined options nor an options factory
     * chose a size.
     */
    public boolean sizesWriteBuffersFromMemory() {
        return memory != null && factory == null && !configured.hasWriteBufferSize();
    }

    /** Small memtables when little memory is given, so that a flush frees memory early. */
    private long defaultWriteBufferSize() {
        if (memory == null) {
            return DEFAULT_WRITE_BUFFER_SIZE;
        }
        return Math.max(1L << 20, Math.min(DEFAULT_WRITE_BUFFER_SIZE, memory.getCapacity() / 8));
    }

    private void useSharedBlockCache(ColumnFamilyOptions options) {
        TableFormatConfig format = options.tableFormatConfig();
        BlockBasedTableConfig table;
        if (format == null) {
            table = new BlockBasedTableConfig();
        } else {
            Preconditions.checkArgument(
                    format instanceof BlockBasedTableConfig,
                    "With managed or fixed memory, RocksDB's memory is bounded through the block"
                            + " cache, which needs a BlockBasedTableConfig; the options factory"
                            + " set a %s.",
                    format.getClass().getSimpleName());
            table = (BlockBasedTableConfig) format;
        }
        if (configured.isPartitionedIndexFilters()) {
            if (table.filterPolicy() != null) {
                // partitioned filters need a full filter; the configured one may be any
                BloomFilter filter = new BloomFilter(10);
                handlesToClose.add(filter);
                table.setFilterPolicy(filter);
            }
            table.setIndexType(IndexType.kTwoLevelIndexSearch)
                    .setPartitionFilters(true)
                    .setPinTopLevelIndexAndFilter(true);
        }
        table.setBlockCache(memory.getCache())
                .setCacheIndexAndFilterBlocks(true)
                .setCacheIndexAndFilterBlocksWithHighPriority(true)
                .setPinTopLevelIndexAndFilter(true)
                .setPinL0FilterAndIndexBlocksInCache(true);
        options.setTableFormatConfig(table);
    }

    /** Options a factory returned instead of the given ones are closed with the container too. */
    private <T extends AutoCloseable> T track(T options) {
        Preconditions.checkState(options != null, "The options factory returned null options.");
        if (!handlesToClose.contains(options)) {
            handlesToClose.add(options);
        }
        return options;
    }

    /**
     * Moves RocksDB's information log next to Flink's log file, as Flink's backend does when no log
     * directory is configured; without a Flink log file it stays in the database directory.
     */
    private void relocateLog(DBOptions options) {
        String flinkLogFile = System.getProperty("log.file");
        if (flinkLogFile == null) {
            return;
        }
        File logDir = new File(flinkLogFile).getAbsoluteFile().getParentFile();
        if (logDir == null || !logDir.isDirectory() || !logDir.canWrite()) {
            return;
        }
        if (dbPath.getAbsolutePath().length() > RELOCATED_LOG_PATH_LIMIT) {
            LOG.warn(
                    "The RocksDB log of {} stays in the database directory: the path is too long"
                            + " to name a log file after it.",
                    dbPath);
            return;
        }
        options.setDbLogDir(logDir.getAbsolutePath());
        relocatedLogDir = logDir;
    }

    /** The name prefix RocksDB gives a log file in a separate log directory: the flat db path. */
    static String relocatedLogPrefix(String dbAbsolutePath) {
        StringBuilder prefix = new StringBuilder(dbAbsolutePath.length());
        for (int i = 0; i < dbAbsolutePath.length(); i++) {
            char c = dbAbsolutePath.charAt(i);
            boolean plain =
                    (c >= 'a' && c <= 'z')
                            || (c >= 'A' && c <= 'Z')
                            || (c >= '0' && c <= '9')
                            || c == '-'
                            || c == '.'
                            || c == '_';
            if (i == 0 && !plain) {
                continue;
            }
            prefix.append(plain ? c : '_');
        }
        return prefix.append(RELOCATED_LOG_SUFFIX).toString();
    }

    @Override
    public void close() {
        for (int i = handlesToClose.size() - 1; i >= 0; i--) {
            IOUtils.closeQuietly(handlesToClose.get(i));
        }
        handlesToClose.clear();
        deleteRelocatedLogs();
    }

    private void deleteRelocatedLogs() {
        if (relocatedLogDir == null) {
            return;
        }
        String prefix = relocatedLogPrefix(dbPath.getAbsolutePath());
        try (DirectoryStream<Path> logs =
                Files.newDirectoryStream(relocatedLogDir.toPath(), prefix + "*")) {
            for (Path log : logs) {
                Files.deleteIfExists(log);
            }
        } catch (IOException e) {
            LOG.warn("Could not delete the RocksDB logs of {} in {}.", dbPath, relocatedLogDir, e);
        }
        relocatedLogDir = null;
    }
}
