package io.statebackend.incremental.metrics;

import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.Statistics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.annotation.Nullable;
import javax.annotation.concurrent.GuardedBy;

import java.io.Closeable;
import java.math.BigInteger;
import java.util.HashSet;
import java.util.Set;

/**
 * Reports RocksDB's native metrics under the names and groups Flink's RocksDB backend uses, so that
 * dashboards built for that backend work unchanged: per column family a group named after the state
 * (or, with {@link RocksDBNativeMetricOptions#COLUMN_FAMILY_AS_VARIABLE}, a {@value
 * #COLUMN_FAMILY_KEY} variable) holding one gauge per property, {@code rocksdb.<property>}; and one
 * gauge per statistics ticker, {@code rocksdb.<ticker>}, in the operator's group.
 *
 * <p>Gauges read RocksDB when a reporter asks for their value. Metric reporters run on their own
 * threads and may outlive the backend, so every native read happens under a lock that {@link
 * #close()} takes too; after it, gauges show the last value read and never touch RocksDB again.
 */
public final class RocksDBNativeMetricMonitor implements Closeable {

    private static final Logger LOG = LoggerFactory.getLogger(RocksDBNativeMetricMonitor.class);

    /** The key of the column family variable, as Flink's backend names it. */
    public static final String COLUMN_FAMILY_KEY = "column_family";

    /** Properties RocksDB gives only as strings; all others are read as numbers. */
    private static final String STRING_PROPERTY_PREFIX = "rocksdb.num-files-at-level";

    private final RocksDBNativeMetricOptions options;
    private final MetricGroup operatorGroup;
    private final RocksDB db;
    @Nullable private final Statistics statistics;

    private final Object lock = new Object();

    @GuardedBy("lock")
    private boolean closed;

    /** Column families whose gauges are registered, so none is registered twice. */
    @GuardedBy("lock")
    private final Set<String> registeredColumnFamilies = new HashSet<>();

    /**
     * Creates a monitor that registers nothing yet: gauges appear with {@link #registerStatistics}
     * and {@link #registerColumnFamily}, once the backend exists.
     */
    public RocksDBNativeMetricMonitor(
            RocksDBNativeMetricOptions options,
            MetricGroup operatorGroup,
            RocksDB db,
            @Nullable Statistics statistics) {
        this.options = options;
        this.operatorGroup = operatorGroup;
        this.db = db;
        this.statistics = statistics;
    }

    /** Registers one gauge per configured statistics ticker in the operator's group. */
    public void registerStatistics() {
        if (statistics == null) {
            return;
        }
        for (RocksDBNativeMetricOptions.Ticker ticker : options.getTickers()) {
            operatorGroup.gauge(ticker.getMetricName(), new TickerGauge(ticker));
        }
    }

    /**
     * Registers the property gauges of one column family, once: a state registered again, or
     * restored and then registered, keeps its gauges.
     */
    public void registerColumnFamily(String columnFamilyName, ColumnFamilyHandle handle) {
        if (options.getProperties().isEmpty()) {
            return;
        }
        synchronized (lock) {
            if (closed || !registeredColumnFamilies.add(columnFamilyName)) {
                return;
            }
        }
        final MetricGroup group =
                options.isColumnFamilyAsVariable()
                        ? operatorGroup.addGroup(COLUMN_FAMILY_KEY, columnFamilyName)
                        : operatorGroup.addGroup(columnFamilyName);
        for (String property : options.getProperties()) {
            group.gauge(property, new PropertyGauge(handle, property));
        }
    }

    /** Stops every native read; the gauges keep their last values. */
    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
        }
    }

    /** A column family property, unsigned in RocksDB, hence a {@link BigInteger} as in Flink. */
    private final class PropertyGauge implements Gauge<BigInteger> {
        private final ColumnFamilyHandle handle;
        private final String property;
        private final boolean stringValued;

        @GuardedBy("lock")
        private BigInteger value = BigInteger.ZERO;

        @GuardedBy("lock")
        private boolean failed;

        PropertyGauge(ColumnFamilyHandle handle, String property) {
            this.handle = handle;
            this.property = property;
            this.stringValued = property.startsWith(STRING_PROPERTY_PREFIX);
        }

        @Override
        public BigInteger getValue() {
            synchronized (lock) {
                if (closed || failed || !handle.isOwningHandle()) {
                    return value;
                }
                try {
                    long raw =
                            stringValued
                                    ? Long.parseLong(db.getProperty(handle, property).trim())
                                    : db.getLongProperty(handle, property);
                    value = unsigned(raw);
                } catch (Exception e) {
                    // a property this RocksDB does not know fails every time: read it no more
                    failed = true;
                    LOG.warn("Could not read the native metric {} from RocksDB.", property, e);
                }
                return value;
            }
        }
    }

    /** A statistics ticker of the whole database. */
    private final class TickerGauge implements Gauge<Long> {
        private final RocksDBNativeMetricOptions.Ticker ticker;

        @GuardedBy("lock")
        private long value;

        TickerGauge(RocksDBNativeMetricOptions.Ticker ticker) {
            this.ticker = ticker;
        }

        @Override
        public Long getValue() {
            synchronized (lock) {
                if (!closed && statistics != null && statistics.isOwningHandle()) {
                    value = statistics.getTickerCount(ticker.getType());
                }
                return value;
            }
        }
    }

    static BigInteger unsigned(long value) {
        return value >= 0
                ? BigInteger.valueOf(value)
                : BigInteger.valueOf(value & Long.MAX_VALUE).setBit(Long.SIZE - 1);
    }
}
