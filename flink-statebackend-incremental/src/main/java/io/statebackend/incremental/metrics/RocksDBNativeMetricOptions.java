package io.statebackend.incremental.metrics;

import io.statebackend.incremental.IncrementalRocksDBOptionsFactory;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ReadableConfig;

import org.rocksdb.TickerType;

import javax.annotation.Nullable;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The switches of RocksDB's native metrics, with the keys, defaults and meaning of Flink 1.20's
 * {@code RocksDBNativeMetricOptions}, so that a configuration written for Flink's RocksDB backend
 * reports the same metrics here. Every switch is off by default: reading native properties costs.
 *
 * <p>Read once from the configuration by {@link #fromConfig}; the result says which column family
 * properties and which statistics tickers to report.
 */
public final class RocksDBNativeMetricOptions implements Serializable {

    private static final long serialVersionUID = 1L;

    /** The prefix of every key of this class. */
    public static final String KEY_PREFIX = "state.backend.rocksdb.metrics.";

    /** The prefix of every metric name: RocksDB's property names start with it, too. */
    static final String METRIC_PREFIX = "rocksdb.";

    public static final ConfigOption<Boolean> MONITOR_NUM_IMMUTABLE_MEM_TABLES =
            ConfigOptions.key(KEY_PREFIX + "num-immutable-mem-table")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.num-immutable-mem-table: Number of immutable memtables not yet flushed.");

    public static final ConfigOption<Boolean> MONITOR_MEM_TABLE_FLUSH_PENDING =
            ConfigOptions.key(KEY_PREFIX + "mem-table-flush-pending")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.mem-table-flush-pending: 1 if a memtable flush is pending, else 0.");

    public static final ConfigOption<Boolean> TRACK_COMPACTION_PENDING =
            ConfigOptions.key(KEY_PREFIX + "compaction-pending")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.compaction-pending: 1 if at least one compaction is pending, else 0.");

    public static final ConfigOption<Boolean> MONITOR_BACKGROUND_ERRORS =
            ConfigOptions.key(KEY_PREFIX + "background-errors")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.background-errors: Number of background errors.");

    public static final ConfigOption<Boolean> MONITOR_CUR_SIZE_ACTIVE_MEM_TABLE =
            ConfigOptions.key(KEY_PREFIX + "cur-size-active-mem-table")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.cur-size-active-mem-table: Approximate bytes of the active memtable.");

    public static final ConfigOption<Boolean> MONITOR_CUR_SIZE_ALL_MEM_TABLE =
            ConfigOptions.key(KEY_PREFIX + "cur-size-all-mem-tables")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.cur-size-all-mem-tables: Approximate bytes of the active and unflushed immutable memtables.");

    public static final ConfigOption<Boolean> MONITOR_SIZE_ALL_MEM_TABLES =
            ConfigOptions.key(KEY_PREFIX + "size-all-mem-tables")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.size-all-mem-tables: Approximate bytes of the active, unflushed immutable and pinned immutable memtables.");

    public static final ConfigOption<Boolean> MONITOR_NUM_ENTRIES_ACTIVE_MEM_TABLE =
            ConfigOptions.key(KEY_PREFIX + "num-entries-active-mem-table")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.num-entries-active-mem-table: Number of entries in the active memtable.");

    public static final ConfigOption<Boolean> MONITOR_NUM_ENTRIES_IMM_MEM_TABLES =
            ConfigOptions.key(KEY_PREFIX + "num-entries-imm-mem-tables")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.num-entries-imm-mem-tables: Number of entries in the unflushed immutable memtables.");

    public static final ConfigOption<Boolean> MONITOR_NUM_DELETES_ACTIVE_MEM_TABLE =
            ConfigOptions.key(KEY_PREFIX + "num-deletes-active-mem-table")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.num-deletes-active-mem-table: Number of delete entries in the active memtable.");

    public static final ConfigOption<Boolean> MONITOR_NUM_DELETES_IMM_MEM_TABLE =
            ConfigOptions.key(KEY_PREFIX + "num-deletes-imm-mem-tables")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.num-deletes-imm-mem-tables: Number of delete entries in the unflushed immutable memtables.");

    public static final ConfigOption<Boolean> ESTIMATE_NUM_KEYS =
            ConfigOptions.key(KEY_PREFIX + "estimate-num-keys")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.estimate-num-keys: Estimated number of keys.");

    public static final ConfigOption<Boolean> ESTIMATE_TABLE_READERS_MEM =
            ConfigOptions.key(KEY_PREFIX + "estimate-table-readers-mem")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.estimate-table-readers-mem: Estimated bytes used for reading SST tables, not counting the block cache.");

    public static final ConfigOption<Boolean> MONITOR_NUM_SNAPSHOTS =
            ConfigOptions.key(KEY_PREFIX + "num-snapshots")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.num-snapshots: Number of unreleased snapshots.");

    public static final ConfigOption<Boolean> MONITOR_NUM_LIVE_VERSIONS =
            ConfigOptions.key(KEY_PREFIX + "num-live-versions")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.num-live-versions: Number of live versions.");

    public static final ConfigOption<Boolean> ESTIMATE_LIVE_DATA_SIZE =
            ConfigOptions.key(KEY_PREFIX + "estimate-live-data-size")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.estimate-live-data-size: Estimated bytes of live data.");

    public static final ConfigOption<Boolean> MONITOR_TOTAL_SST_FILES_SIZE =
            ConfigOptions.key(KEY_PREFIX + "total-sst-files-size")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.total-sst-files-size: Total bytes of all versions' SST files.");

    public static final ConfigOption<Boolean> MONITOR_LIVE_SST_FILES_SIZE =
            ConfigOptions.key(KEY_PREFIX + "live-sst-files-size")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.live-sst-files-size: Total bytes of the latest version's SST files.");

    public static final ConfigOption<Boolean> ESTIMATE_PENDING_COMPACTION_BYTES =
            ConfigOptions.key(KEY_PREFIX + "estimate-pending-compaction-bytes")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.estimate-pending-compaction-bytes: Estimated bytes compaction needs to rewrite.");

    public static final ConfigOption<Boolean> MONITOR_NUM_RUNNING_COMPACTIONS =
            ConfigOptions.key(KEY_PREFIX + "num-running-compactions")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.num-running-compactions: Number of running compactions.");

    public static final ConfigOption<Boolean> MONITOR_NUM_RUNNING_FLUSHES =
            ConfigOptions.key(KEY_PREFIX + "num-running-flushes")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.num-running-flushes: Number of running flushes.");

    public static final ConfigOption<Boolean> MONITOR_ACTUAL_DELAYED_WRITE_RATE =
            ConfigOptions.key(KEY_PREFIX + "actual-delayed-write-rate")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.actual-delayed-write-rate: The current write rate limit; 0 when writes are not delayed.");

    public static final ConfigOption<Boolean> IS_WRITE_STOPPED =
            ConfigOptions.key(KEY_PREFIX + "is-write-stopped")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.is-write-stopped: 1 if writes are stopped, else 0.");

    public static final ConfigOption<Boolean> BLOCK_CACHE_CAPACITY =
            ConfigOptions.key(KEY_PREFIX + "block-cache-capacity")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.block-cache-capacity: Block cache capacity in bytes.");

    public static final ConfigOption<Boolean> BLOCK_CACHE_USAGE =
            ConfigOptions.key(KEY_PREFIX + "block-cache-usage")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.block-cache-usage: Bytes of the entries in the block cache.");

    public static final ConfigOption<Boolean> BLOCK_CACHE_PINNED_USAGE =
            ConfigOptions.key(KEY_PREFIX + "block-cache-pinned-usage")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's property rocksdb.block-cache-pinned-usage: Bytes of the pinned entries in the block cache.");

    public static final ConfigOption<Boolean> MONITOR_NUM_FILES_AT_LEVEL =
            ConfigOptions.key(KEY_PREFIX + "num-files-at-level")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's properties rocksdb.num-files-at-level0 to"
                                    + " rocksdb.num-files-at-level6: the number of files at each"
                                    + " level.");

    public static final ConfigOption<Boolean> COLUMN_FAMILY_AS_VARIABLE =
            ConfigOptions.key(KEY_PREFIX + "column-family-as-variable")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Whether the column family of a property metric is a variable"
                                    + " ('column_family') of its metric group instead of a group"
                                    + " of its own.");

    public static final ConfigOption<Boolean> MONITOR_BLOCK_CACHE_HIT =
            ConfigOptions.key(KEY_PREFIX + "block-cache-hit")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's statistics ticker BLOCK_CACHE_HIT: Total block cache hits. Turns RocksDB"
                                    + " statistics on, which costs on every access.");

    public static final ConfigOption<Boolean> MONITOR_BLOCK_CACHE_MISS =
            ConfigOptions.key(KEY_PREFIX + "block-cache-miss")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's statistics ticker BLOCK_CACHE_MISS: Total block cache misses. Turns RocksDB"
                                    + " statistics on, which costs on every access.");

    public static final ConfigOption<Boolean> MONITOR_BLOOM_FILTER_USEFUL =
            ConfigOptions.key(KEY_PREFIX + "bloom-filter-useful")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's statistics ticker BLOOM_FILTER_USEFUL: Times the bloom filter avoided a file read. Turns RocksDB"
                                    + " statistics on, which costs on every access.");

    public static final ConfigOption<Boolean> MONITOR_BLOOM_FILTER_FULL_POSITIVE =
            ConfigOptions.key(KEY_PREFIX + "bloom-filter-full-positive")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's statistics ticker BLOOM_FILTER_FULL_POSITIVE: Times the full bloom filter did not avoid a read. Turns RocksDB"
                                    + " statistics on, which costs on every access.");

    public static final ConfigOption<Boolean> MONITOR_BLOOM_FILTER_FULL_TRUE_POSITIVE =
            ConfigOptions.key(KEY_PREFIX + "bloom-filter-full-true-positive")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's statistics ticker BLOOM_FILTER_FULL_TRUE_POSITIVE: Times the full bloom filter did not avoid a read and the key existed. Turns RocksDB"
                                    + " statistics on, which costs on every access.");

    public static final ConfigOption<Boolean> MONITOR_BYTES_READ =
            ConfigOptions.key(KEY_PREFIX + "bytes-read")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's statistics ticker BYTES_READ: Uncompressed bytes read by point lookups. Turns RocksDB"
                                    + " statistics on, which costs on every access.");

    public static final ConfigOption<Boolean> MONITOR_ITER_BYTES_READ =
            ConfigOptions.key(KEY_PREFIX + "iter-bytes-read")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's statistics ticker ITER_BYTES_READ: Uncompressed bytes read by iterators. Turns RocksDB"
                                    + " statistics on, which costs on every access.");

    public static final ConfigOption<Boolean> MONITOR_BYTES_WRITTEN =
            ConfigOptions.key(KEY_PREFIX + "bytes-written")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's statistics ticker BYTES_WRITTEN: Uncompressed bytes written. Turns RocksDB"
                                    + " statistics on, which costs on every access.");

    public static final ConfigOption<Boolean> MONITOR_COMPACTION_READ_BYTES =
            ConfigOptions.key(KEY_PREFIX + "compaction-read-bytes")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's statistics ticker COMPACT_READ_BYTES: Bytes read by compactions. Turns RocksDB"
                                    + " statistics on, which costs on every access.");

    public static final ConfigOption<Boolean> MONITOR_COMPACTION_WRITE_BYTES =
            ConfigOptions.key(KEY_PREFIX + "compaction-write-bytes")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's statistics ticker COMPACT_WRITE_BYTES: Bytes written by compactions. Turns RocksDB"
                                    + " statistics on, which costs on every access.");

    public static final ConfigOption<Boolean> MONITOR_STALL_MICROS =
            ConfigOptions.key(KEY_PREFIX + "stall-micros")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Monitor RocksDB's statistics ticker STALL_MICROS: Microseconds writes waited for compactions or flushes. Turns RocksDB"
                                    + " statistics on, which costs on every access.");

    /** A RocksDB statistics ticker and the name of its metric. */
    public static final class Ticker implements Serializable {
        private static final long serialVersionUID = 1L;

        private final TickerType type;
        private final String metricName;

        Ticker(TickerType type, String metricName) {
            this.type = type;
            this.metricName = metricName;
        }

        public TickerType getType() {
            return type;
        }

        public String getMetricName() {
            return metricName;
        }
    }

    /** The property switches, in Flink's order, with the properties they turn on. */
    private static final List<PropertySwitch> PROPERTY_SWITCHES = new ArrayList<>();

    /** The statistics switches, in Flink's order. */
    private static final List<TickerSwitch> TICKER_SWITCHES = new ArrayList<>();

    static {
        property(MONITOR_NUM_IMMUTABLE_MEM_TABLES, "num-immutable-mem-table");
        property(MONITOR_MEM_TABLE_FLUSH_PENDING, "mem-table-flush-pending");
        property(TRACK_COMPACTION_PENDING, "compaction-pending");
        property(MONITOR_BACKGROUND_ERRORS, "background-errors");
        property(MONITOR_CUR_SIZE_ACTIVE_MEM_TABLE, "cur-size-active-mem-table");
        property(MONITOR_CUR_SIZE_ALL_MEM_TABLE, "cur-size-all-mem-tables");
        property(MONITOR_SIZE_ALL_MEM_TABLES, "size-all-mem-tables");
        property(MONITOR_NUM_ENTRIES_ACTIVE_MEM_TABLE, "num-entries-active-mem-table");
        property(MONITOR_NUM_ENTRIES_IMM_MEM_TABLES, "num-entries-imm-mem-tables");
        property(MONITOR_NUM_DELETES_ACTIVE_MEM_TABLE, "num-deletes-active-mem-table");
        property(MONITOR_NUM_DELETES_IMM_MEM_TABLE, "num-deletes-imm-mem-tables");
        property(ESTIMATE_NUM_KEYS, "estimate-num-keys");
        property(ESTIMATE_TABLE_READERS_MEM, "estimate-table-readers-mem");
        property(MONITOR_NUM_SNAPSHOTS, "num-snapshots");
        property(MONITOR_NUM_LIVE_VERSIONS, "num-live-versions");
        property(ESTIMATE_LIVE_DATA_SIZE, "estimate-live-data-size");
        property(MONITOR_TOTAL_SST_FILES_SIZE, "total-sst-files-size");
        property(MONITOR_LIVE_SST_FILES_SIZE, "live-sst-files-size");
        property(ESTIMATE_PENDING_COMPACTION_BYTES, "estimate-pending-compaction-bytes");
        property(MONITOR_NUM_RUNNING_COMPACTIONS, "num-running-compactions");
        property(MONITOR_NUM_RUNNING_FLUSHES, "num-running-flushes");
        property(MONITOR_ACTUAL_DELAYED_WRITE_RATE, "actual-delayed-write-rate");
        property(IS_WRITE_STOPPED, "is-write-stopped");
        property(BLOCK_CACHE_CAPACITY, "block-cache-capacity");
        property(BLOCK_CACHE_USAGE, "block-cache-usage");
        property(BLOCK_CACHE_PINNED_USAGE, "block-cache-pinned-usage");
        property(
                MONITOR_NUM_FILES_AT_LEVEL,
                "num-files-at-level0",
                "num-files-at-level1",
                "num-files-at-level2",
                "num-files-at-level3",
                "num-files-at-level4",
                "num-files-at-level5",
                "num-files-at-level6");
        ticker(MONITOR_BLOCK_CACHE_HIT, TickerType.BLOCK_CACHE_HIT, "block_cache_hit");
        ticker(MONITOR_BLOCK_CACHE_MISS, TickerType.BLOCK_CACHE_MISS, "block_cache_miss");
        ticker(MONITOR_BLOOM_FILTER_USEFUL, TickerType.BLOOM_FILTER_USEFUL, "bloom_filter_useful");
        ticker(
                MONITOR_BLOOM_FILTER_FULL_POSITIVE,
                TickerType.BLOOM_FILTER_FULL_POSITIVE,
                "bloom_filter_full_positive");
        ticker(
                MONITOR_BLOOM_FILTER_FULL_TRUE_POSITIVE,
                TickerType.BLOOM_FILTER_FULL_TRUE_POSITIVE,
                "bloom_filter_full_true_positive");
        ticker(MONITOR_BYTES_READ, TickerType.BYTES_READ, "bytes_read");
        ticker(MONITOR_ITER_BYTES_READ, TickerType.ITER_BYTES_READ, "iter_bytes_read");
        ticker(MONITOR_BYTES_WRITTEN, TickerType.BYTES_WRITTEN, "bytes_written");
        ticker(MONITOR_COMPACTION_READ_BYTES, TickerType.COMPACT_READ_BYTES, "compact_read_bytes");
        ticker(
                MONITOR_COMPACTION_WRITE_BYTES,
                TickerType.COMPACT_WRITE_BYTES,
                "compact_write_bytes");
        ticker(MONITOR_STALL_MICROS, TickerType.STALL_MICROS, "stall_micros");
    }

    private final List<String> properties;
    private final List<Ticker> tickers;
    private final boolean columnFamilyAsVariable;

    private RocksDBNativeMetricOptions(
            List<String> properties, List<Ticker> tickers, boolean columnFamilyAsVariable) {
        this.properties = Collections.unmodifiableList(properties);
        this.tickers = Collections.unmodifiableList(tickers);
        this.columnFamilyAsVariable = columnFamilyAsVariable;
    }

    /** Reads every switch of this class from {@code config}. */
    public static RocksDBNativeMetricOptions fromConfig(ReadableConfig config) {
        final List<String> properties = new ArrayList<>();
        for (PropertySwitch property : PROPERTY_SWITCHES) {
            if (config.get(property.option)) {
                for (String name : property.properties) {
                    properties.add(METRIC_PREFIX + name);
                }
            }
        }
        final List<Ticker> tickers = new ArrayList<>();
        for (TickerSwitch ticker : TICKER_SWITCHES) {
            if (config.get(ticker.option)) {
                tickers.add(ticker.ticker);
            }
        }
        return new RocksDBNativeMetricOptions(
                properties, tickers, config.get(COLUMN_FAMILY_AS_VARIABLE));
    }

    /**
     * Reads the switches from {@code config} after the options factory, if any, had its say, as
     * Flink's backend lets {@code createNativeMetricsOptions} change them.
     */
    public static RocksDBNativeMetricOptions fromConfig(
            ReadableConfig config, @Nullable IncrementalRocksDBOptionsFactory factory) {
        if (factory == null) {
            return fromConfig(config);
        }
        final Configuration switches = new Configuration();
        for (ConfigOption<Boolean> option : allOptions()) {
            config.getOptional(option).ifPresent(value -> switches.set(option, value));
        }
        return fromConfig(factory.createNativeMetricsOptions(switches));
    }

    /** No native metric at all. */
    public static RocksDBNativeMetricOptions disabled() {
        return new RocksDBNativeMetricOptions(
                Collections.emptyList(), Collections.emptyList(), false);
    }

    /** The switches of this class, for the documentation and its tests. */
    public static List<ConfigOption<Boolean>> allOptions() {
        final List<ConfigOption<Boolean>> options = new ArrayList<>();
        for (PropertySwitch property : PROPERTY_SWITCHES) {
            options.add(property.option);
        }
        options.add(COLUMN_FAMILY_AS_VARIABLE);
        for (TickerSwitch ticker : TICKER_SWITCHES) {
            options.add(ticker.option);
        }
        return Collections.unmodifiableList(options);
    }

    /** The RocksDB properties to report per column family, which are also the metric names. */
    public List<String> getProperties() {
        return properties;
    }

    /** The statistics tickers to report; RocksDB statistics are on only if there are any. */
    public List<Ticker> getTickers() {
        return tickers;
    }

    public boolean isStatisticsEnabled() {
        return !tickers.isEmpty();
    }

    public boolean isEnabled() {
        return !properties.isEmpty() || !tickers.isEmpty();
    }

    public boolean isColumnFamilyAsVariable() {
        return columnFamilyAsVariable;
    }

    private static void property(ConfigOption<Boolean> option, String... properties) {
        PROPERTY_SWITCHES.add(new PropertySwitch(option, properties));
    }

    private static void ticker(ConfigOption<Boolean> option, TickerType type, String name) {
        TICKER_SWITCHES.add(new TickerSwitch(option, new Ticker(type, METRIC_PREFIX + name)));
    }

    private static final class PropertySwitch {
        final ConfigOption<Boolean> option;
        final String[] properties;

        PropertySwitch(ConfigOption<Boolean> option, String[] properties) {
            this.option = option;
            this.properties = properties;
        }
    }

    private static final class TickerSwitch {
        final ConfigOption<Boolean> option;
        final Ticker ticker;

        TickerSwitch(ConfigOption<Boolean> option, Ticker ticker) {
            this.option = option;
            this.ticker = ticker;
        }
    }
}
