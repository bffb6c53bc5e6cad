package io.statebackend.incremental;

import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.restore.RestoreSettings;
import io.statebackend.incremental.rocksdb.options.ConfiguredRocksDBOptions;
import io.statebackend.incremental.rocksdb.options.OptionsFactoryLoader;
import io.statebackend.incremental.snapshot.LocalFileVerification;
import io.statebackend.incremental.transfer.TransferRetryPolicy;
import io.statebackend.incremental.transfer.UploadCheck;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.ReadableConfig;

import javax.annotation.Nullable;

import java.io.File;
import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The validated, typed settings of one backend. Built once from a configuration, so that a wrong
 * value fails when the job starts with a message naming the key and the value, never later on a
 * task thread.
 */
public final class IncrementalRocksDBSettings implements Serializable {

    private static final long serialVersionUID = 1L;

    private final boolean incrementalCheckpoints;
    private final List<File> localDirectories;
    private final PriorityQueueStateType timerServiceType;
    private final int timerCacheSize;
    private final boolean useManagedMemory;
    @Nullable private final MemorySize fixedMemoryPerSlot;
    private final double writeBufferRatio;
    private final double highPriorityPoolRatio;
    private final int transferThreads;
    private final int uploadRetries;
    private final int downloadRetries;
    private final Duration retryInitialBackoff;
    private final Duration retryMaxBackoff;
    private final long writeBatchSize;
    private final long maxManifestFileSize;
    private final ConfiguredRocksDBOptions rocksDBOptions;
    @Nullable private final IncrementalRocksDBOptionsFactory optionsFactory;
    private final boolean ttlBackgroundCleanup;
    private final boolean checkpointUploadAhead;
    private final boolean checkpointVerifySstFiles;
    private final RestoreSettings restoreSettings;

    private IncrementalRocksDBSettings(ReadableConfig config, @Nullable ClassLoader classLoader) {
        this.incrementalCheckpoints =
                read(config, IncrementalRocksDBOptions.INCREMENTAL_CHECKPOINTS);
        this.localDirectories = parseLocalDirectories(config);
        this.timerServiceType = read(config, IncrementalRocksDBOptions.TIMER_SERVICE_FACTORY);
        this.timerCacheSize =
                atLeast(config, IncrementalRocksDBOptions.TIMER_SERVICE_CACHE_SIZE, 1);
        this.useManagedMemory = read(config, IncrementalRocksDBOptions.USE_MANAGED_MEMORY);
        this.fixedMemoryPerSlot = read(config, IncrementalRocksDBOptions.FIX_PER_SLOT_MEMORY_SIZE);
        if (fixedMemoryPerSlot != null && fixedMemoryPerSlot.getBytes() <= 0) {
            throw invalid(
                    IncrementalRocksDBOptions.FIX_PER_SLOT_MEMORY_SIZE,
                    rawValue(config, IncrementalRocksDBOptions.FIX_PER_SLOT_MEMORY_SIZE),
                    "it must be larger than 0");
        }
        this.writeBufferRatio = ratio(config, IncrementalRocksDBOptions.WRITE_BUFFER_RATIO);
        this.highPriorityPoolRatio =
                ratio(config, IncrementalRocksDBOptions.HIGH_PRIORITY_POOL_RATIO);
        if (writeBufferRatio + highPriorityPoolRatio > 1.0) {
            throw invalid(
                    IncrementalRocksDBOptions.HIGH_PRIORITY_POOL_RATIO,
                    rawValue(config, IncrementalRocksDBOptions.HIGH_PRIORITY_POOL_RATIO),
                    "together with "
                            + IncrementalRocksDBOptions.WRITE_BUFFER_RATIO.key()
                            + " ("
                            + writeBufferRatio
                            + ") it must not exceed 1.0");
        }
        this.transferThreads =
                atLeast(config, IncrementalRocksDBOptions.CHECKPOINT_TRANSFER_THREAD_NUM, 1);
        this.uploadRetries = atLeast(config, IncrementalRocksDBOptions.UPLOAD_RETRIES, 0);
        final Integer downloadRetries = read(config, IncrementalRocksDBOptions.DOWNLOAD_RETRIES);
        this.downloadRetries =
                downloadRetries == null
                        ? uploadRetries
                        : atLeast(config, IncrementalRocksDBOptions.DOWNLOAD_RETRIES, 0);
        this.retryInitialBackoff = read(config, IncrementalRocksDBOptions.RETRY_INITIAL_BACKOFF);
        this.retryMaxBackoff = read(config, IncrementalRocksDBOptions.RETRY_MAX_BACKOFF);
        if (retryInitialBackoff.isNegative()) {
            throw invalid(
                    IncrementalRocksDBOptions.RETRY_INITIAL_BACKOFF,
                    rawValue(config, IncrementalRocksDBOptions.RETRY_INITIAL_BACKOFF),
                    "it must not be negative");
        }
        if (retryMaxBackoff.compareTo(retryInitialBackoff) < 0) {
            throw invalid(
                    IncrementalRocksDBOptions.RETRY_MAX_BACKOFF,
                    rawValue(config, IncrementalRocksDBOptions.RETRY_MAX_BACKOFF),
                    "it must be at least the initial backoff ("
                            + retryInitialBackoff.toMillis()
                            + " ms)");
        }
        this.writeBatchSize = read(config, IncrementalRocksDBOptions.WRITE_BATCH_SIZE).getBytes();
        this.maxManifestFileSize =
                read(config, IncrementalRocksDBOptions.MAX_MANIFEST_FILE_SIZE).getBytes();
        if (maxManifestFileSize < 64 * 1024) {
            throw invalid(
                    IncrementalRocksDBOptions.MAX_MANIFEST_FILE_SIZE,
                    rawValue(config, IncrementalRocksDBOptions.MAX_MANIFEST_FILE_SIZE),
                    "it must be at least 64kb");
        }
        this.rocksDBOptions = ConfiguredRocksDBOptions.fromConfig(config);
        this.optionsFactory = OptionsFactoryLoader.load(config, classLoader);
        this.ttlBackgroundCleanup = read(config, IncrementalRocksDBOptions.TTL_BACKGROUND_CLEANUP);
        this.checkpointUploadAhead =
                read(config, IncrementalRocksDBOptions.CHECKPOINT_UPLOAD_AHEAD);
        this.checkpointVerifySstFiles =
                read(config, IncrementalRocksDBOptions.CHECKPOINT_VERIFY_SST_FILES);
        this.restoreSettings = RestoreSettings.fromConfig(config);
    }

    /**
     * Reads and validates every option of the backend.
     *
     * @throws IllegalConfigurationException naming the key and the value of the first wrong entry
     */
    public static IncrementalRocksDBSettings fromConfig(ReadableConfig config) {
        return new IncrementalRocksDBSettings(config, null);
    }

    /**
     * Reads and validates every option of the backend; the options factory, if one is configured,
     * is looked up next to the backend and then in {@code userClassLoader}.
     *
     * @throws IllegalConfigurationException naming the key and the value of the first wrong entry
     */
    public static IncrementalRocksDBSettings fromConfig(
            ReadableConfig config, @Nullable ClassLoader userClassLoader) {
        return new IncrementalRocksDBSettings(config, userClassLoader);
    }

    public boolean isIncrementalCheckpoints() {
        return incrementalCheckpoints;
    }

    /** The configured local directories; empty means the TaskManager's temporary directories. */
    public List<File> getLocalDirectories() {
        return localDirectories;
    }

    public PriorityQueueStateType getTimerServiceType() {
        return timerServiceType;
    }

    public int getTimerCacheSize() {
        return timerCacheSize;
    }

    public boolean isUseManagedMemory() {
        return useManagedMemory;
    }

    public Optional<MemorySize> getFixedMemoryPerSlot() {
        return Optional.ofNullable(fixedMemoryPerSlot);
    }

    public double getWriteBufferRatio() {
        return writeBufferRatio;
    }

    public double getHighPriorityPoolRatio() {
        return highPriorityPoolRatio;
    }

    public int getTransferThreads() {
        return transferThreads;
    }

    /** How uploads of checkpoint files are retried. */
    public TransferRetryPolicy getUploadRetryPolicy() {
        return new TransferRetryPolicy(uploadRetries, retryInitialBackoff, retryMaxBackoff);
    }

    /** How downloads of checkpoint files are retried. */
    public TransferRetryPolicy getDownloadRetryPolicy() {
        return new TransferRetryPolicy(downloadRetries, retryInitialBackoff, retryMaxBackoff);
    }

    public long getWriteBatchSize() {
        return writeBatchSize;
    }

    public long getMaxManifestFileSize() {
        return maxManifestFileSize;
    }

    /** The RocksDB options from the predefined profile and the configured keys. */
    public ConfiguredRocksDBOptions getRocksDBOptions() {
        return rocksDBOptions;
    }

    /** The configured options factory, or null. */
    @Nullable
    public IncrementalRocksDBOptionsFactory getOptionsFactory() {
        return optionsFactory;
    }

    /** Whether TTL states that ask for background cleanup get it. */
    public boolean isTtlBackgroundCleanup() {
        return ttlBackgroundCleanup;
    }

    /** Whether SST files are uploaded as soon as RocksDB writes them, ahead of checkpoints. */
    public boolean isCheckpointUploadAhead() {
        return checkpointUploadAhead;
    }

    /** What every file passes before its upload: the SST files' block checksums, if verified. */
    public UploadCheck getUploadCheck() {
        return checkpointVerifySstFiles ? LocalFileVerification.BEFORE_UPLOAD : UploadCheck.NONE;
    }

    /** How snapshots are restored and rescaled. */
    public RestoreSettings getRestoreSettings() {
        return restoreSettings;
    }

    // ------------------------------------------------------------------------

    private static <T> T read(ReadableConfig config, ConfigOption<T> option) {
        try {
            return config.get(option);
        } catch (IllegalArgumentException e) {
            throw invalid(option, rawValue(config, option), rootMessage(e));
        }
    }

    private static int atLeast(ReadableConfig config, ConfigOption<Integer> option, int minimum) {
        int value = read(config, option);
        if (value < minimum) {
            throw invalid(option, rawValue(config, option), "it must be at least " + minimum);
        }
        return value;
    }

    private static double ratio(ReadableConfig config, ConfigOption<Double> option) {
        double value = read(config, option);
        if (!(value > 0.0 && value < 1.0)) {
            throw invalid(
                    option, rawValue(config, option), "it must be a fraction between 0 and 1");
        }
        return value;
    }

    private static List<File> parseLocalDirectories(ReadableConfig config) {
        String raw = read(config, IncrementalRocksDBOptions.LOCAL_DIRECTORIES);
        if (raw == null || raw.trim().isEmpty()) {
            return Collections.emptyList();
        }
        List<String> entries = new ArrayList<>();
        for (String part : raw.split(",")) {
            splitOnPathSeparator(part, entries);
        }
        List<File> directories = new ArrayList<>();
        for (String entry : entries) {
            String path = entry.trim();
            if (path.isEmpty()) {
                continue;
            }
            if (path.startsWith("file://")) {
                path = path.substring("file://".length());
            } else if (path.startsWith("file:")) {
                path = path.substring("file:".length());
            } else if (path.contains("://")) {
                throw invalid(
                        IncrementalRocksDBOptions.LOCAL_DIRECTORIES,
                        raw,
                        "'" + entry.trim() + "' is not on the local file system");
            }
            File directory = new File(path);
            if (!directory.isAbsolute()) {
                throw invalid(
                        IncrementalRocksDBOptions.LOCAL_DIRECTORIES,
                        raw,
                        "'" + entry.trim() + "' is not an absolute path");
            }
            if (directory.exists() && !directory.isDirectory()) {
                throw invalid(
                        IncrementalRocksDBOptions.LOCAL_DIRECTORIES,
                        raw,
                        "'" + entry.trim() + "' exists and is not a directory");
            }
            directories.add(directory);
        }
        return Collections.unmodifiableList(directories);
    }

    private static final Pattern URI_SCHEME = Pattern.compile("[A-Za-z][A-Za-z0-9+.\\-]*");

    /**
     * Splits on the platform path separator, except where it ends a URI scheme ({@code file:},
     * {@code hdfs:}), so that {@code /a:/b} gives two paths and {@code file:///a} one.
     */
    private static void splitOnPathSeparator(String value, List<String> out) {
        if (!":".equals(File.pathSeparator)) {
            out.addAll(java.util.Arrays.asList(value.split(Pattern.quote(File.pathSeparator))));
            return;
        }
        int start = 0;
        for (int i = value.indexOf(':'); i >= 0; i = value.indexOf(':', i + 1)) {
            if (URI_SCHEME.matcher(value.substring(start, i).trim()).matches()) {
                continue;
            }
            out.add(value.substring(start, i));
            start = i + 1;
        }
        out.add(value.substring(start));
    }

    private static String rawValue(ReadableConfig config, ConfigOption<?> option) {
        Map<String, String> all = config.toMap();
        String value = all.get(option.key());
        return value != null ? value : "(not set)";
    }

    private static String rootMessage(Throwable t) {
        Throwable cause = t;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        return String.valueOf(cause.getMessage());
    }

    private static IllegalConfigurationException invalid(
            ConfigOption<?> option, String value, String reason) {
        return new IllegalConfigurationException(
                String.format(
                        "Invalid value '%s' for configuration key '%s': %s.",
                        value, option.key(), reason));
    }
}
