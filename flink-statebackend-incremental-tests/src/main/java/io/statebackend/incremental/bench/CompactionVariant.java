package io.statebackend.incremental.bench;

import io.statebackend.incremental.ConfigurableIncrementalRocksDBOptionsFactory;
import io.statebackend.incremental.IncrementalRocksDBOptionsFactory;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.ReadableConfig;

import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompactionOptionsUniversal;
import org.rocksdb.CompactionPriority;
import org.rocksdb.CompactionStyle;
import org.rocksdb.DBOptions;
import org.rocksdb.SstPartitionerFixedPrefixFactory;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * An options factory for the checkpoint benchmark that sets RocksDB compaction options Flink has no
 * keys for, from one configuration entry, {@code bench.compaction}: comma-separated {@code
 * name=value} pairs. Names: {@code style} (level, universal), {@code l0} (level-0 file count that
 * triggers a compaction), {@code target} (target file size), {@code base} (max bytes of the base
 * level), {@code multiplier}, {@code dynamic} (dynamic level bytes), {@code priority} (min-overlap,
 * round-robin, by-size, oldest-first), {@code partition} (fixed key prefix length of the SST
 * partitioner), and for universal compaction {@code ratio} (size ratio, percent), {@code amp} (max
 * size amplification, percent), {@code width} (min merge width), and {@code incremental} (RocksDB's
 * incremental universal compaction, which has no Java setter and is set through an options string).
 * Sizes take Flink's memory size syntax (2mb). A benchmark tool only: it is looked up by name, so
 * that the driver also runs on a class path without this backend.
 */
public final class CompactionVariant implements ConfigurableIncrementalRocksDBOptionsFactory {

    private static final long serialVersionUID = 1L;

    static final ConfigOption<String> SPEC =
            ConfigOptions.key("bench.compaction").stringType().defaultValue("");

    private final LinkedHashMap<String, String> settings;

    public CompactionVariant() {
        this(new LinkedHashMap<>());
    }

    private CompactionVariant(LinkedHashMap<String, String> settings) {
        this.settings = settings;
    }

    @Override
    public IncrementalRocksDBOptionsFactory configure(ReadableConfig configuration) {
        return new CompactionVariant(parse(configuration.get(SPEC)));
    }

    static LinkedHashMap<String, String> parse(String spec) {
        LinkedHashMap<String, String> parsed = new LinkedHashMap<>();
        for (String pair : spec.split(",")) {
            if (pair.isBlank()) {
                continue;
            }
            int equals = pair.indexOf('=');
            if (equals <= 0) {
                throw new IllegalArgumentException("Expected name=value, got '" + pair + "'");
            }
            parsed.put(pair.substring(0, equals).trim(), pair.substring(equals + 1).trim());
        }
        return parsed;
    }

    @Override
    public DBOptions createDBOptions(
            DBOptions currentOptions, Collection<AutoCloseable> handlesToClose) {
        return currentOptions;
    }

    @Override
    public ColumnFamilyOptions createColumnOptions(
            ColumnFamilyOptions currentOptions, Collection<AutoCloseable> handlesToClose) {
        ColumnFamilyOptions options = currentOptions;
        CompactionOptionsUniversal universal = null;
        if (settings.containsKey("incremental")) {
            options = incrementalUniversal(currentOptions);
            handlesToClose.add(options);
        }
        for (Map.Entry<String, String> setting : settings.entrySet()) {
            String value = setting.getValue();
            switch (setting.getKey()) {
                case "incremental":
                    break;
                case "style":
                    options.setCompactionStyle(
                            CompactionStyle.valueOf(value.toUpperCase(Locale.ROOT)));
                    break;
                case "l0":
                    options.setLevel0FileNumCompactionTrigger(Integer.parseInt(value));
                    break;
                case "target":
                    options.setTargetFileSizeBase(MemorySize.parse(value).getBytes());
                    break;
                case "base":
                    options.setMaxBytesForLevelBase(MemorySize.parse(value).getBytes());
                    break;
                case "multiplier":
                    options.setMaxBytesForLevelMultiplier(Double.parseDouble(value));
                    break;
                case "dynamic":
                    options.setLevelCompactionDynamicLevelBytes(Boolean.parseBoolean(value));
                    break;
                case "priority":
                    options.setCompactionPriority(priority(value));
                    break;
                case "partition":
                    SstPartitionerFixedPrefixFactory partitioner =
                            new SstPartitionerFixedPrefixFactory(Long.parseLong(value));
                    handlesToClose.add(partitioner);
                    options.setSstPartitionerFactory(partitioner);
                    break;
                case "ratio":
                case "amp":
                case "width":
                    if (options != currentOptions) {
                        break;
                    }
                    if (universal == null) {
                        universal = new CompactionOptionsUniversal();
                        handlesToClose.add(universal);
                    }
                    int number = Integer.parseInt(value);
                    if (setting.getKey().equals("ratio")) {
                        universal.setSizeRatio(number);
                    } else if (setting.getKey().equals("amp")) {
                        universal.setMaxSizeAmplificationPercent(number);
                    } else {
                        universal.setMinMergeWidth(number);
                    }
                    break;
                default:
                    throw new IllegalArgumentException(
                            "Unknown compaction setting '" + setting.getKey() + "'");
            }
        }
        if (universal != null) {
            options.setCompactionOptionsUniversal(universal);
        }
        return options;
    }

    /**
     * Universal compaction whose size amplification compactions take a part of the last sorted run
     * at a time; the Java API has no setter for it, so the options are built from an options string
     * (the universal options given here go into it), with the memtable and compression of the
     * current options.
     */
    private ColumnFamilyOptions incrementalUniversal(ColumnFamilyOptions current) {
        StringBuilder universal = new StringBuilder("incremental=true");
        if (settings.containsKey("ratio")) {
            universal.append(";size_ratio=").append(settings.get("ratio"));
        }
        if (settings.containsKey("amp")) {
            universal.append(";max_size_amplification_percent=").append(settings.get("amp"));
        }
        if (settings.containsKey("width")) {
            universal.append(";min_merge_width=").append(settings.get("width"));
        }
        Properties properties = new Properties();
        properties.setProperty("compaction_style", "kCompactionStyleUniversal");
        properties.setProperty("compaction_options_universal", "{" + universal + "}");
        properties.setProperty("write_buffer_size", String.valueOf(current.writeBufferSize()));
        properties.setProperty(
                "max_write_buffer_number", String.valueOf(current.maxWriteBufferNumber()));
        try (org.rocksdb.ConfigOptions config = new org.rocksdb.ConfigOptions()) {
            ColumnFamilyOptions options =
                    ColumnFamilyOptions.getColumnFamilyOptionsFromProps(config, properties);
            if (options == null) {
                throw new IllegalArgumentException("RocksDB rejected " + properties);
            }
            options.setCompressionPerLevel(current.compressionPerLevel());
            return options;
        }
    }

    private static CompactionPriority priority(String name) {
        switch (name) {
            case "min-overlap":
                return CompactionPriority.MinOverlappingRatio;
            case "round-robin":
                return CompactionPriority.RoundRobin;
            case "by-size":
                return CompactionPriority.ByCompensatedSize;
            case "oldest-first":
                return CompactionPriority.OldestLargestSeqFirst;
            default:
                throw new IllegalArgumentException("Unknown compaction priority '" + name + "'");
        }
    }
}
