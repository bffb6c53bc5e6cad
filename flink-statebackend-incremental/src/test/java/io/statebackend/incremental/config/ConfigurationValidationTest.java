package io.statebackend.incremental.config;

import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBSettings;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackendFactory;
import io.statebackend.incremental.snapshot.LocalFileVerification;
import io.statebackend.incremental.transfer.UploadCheck;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.MemorySize;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.File;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every option of {@link IncrementalRocksDBOptions} rejects wrong values at configuration time,
 * through the factory and through {@link IncrementalRocksDBStateBackend#configure}, with an {@link
 * IllegalConfigurationException} naming the key and the value (DESIGN.md §8).
 */
class ConfigurationValidationTest {

    private static final ClassLoader CL = ConfigurationValidationTest.class.getClassLoader();

    /** An existing regular file, which is not usable as a local directory. */
    @TempDir static Path tempDir;

    private static String regularFile;

    private static synchronized String regularFile() {
        if (regularFile == null) {
            try {
                Path file = Files.createTempFile(tempDir, "not-a-directory", ".txt");
                regularFile = file.toAbsolutePath().toString();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }
        return regularFile;
    }

    /** One wrong value of one option. */
    private static final class WrongValue {
        final ConfigOption<?> option;
        final String value;
        final Map<String, String> otherEntries;

        WrongValue(ConfigOption<?> option, String value, Map<String, String> otherEntries) {
            this.option = option;
            this.value = value;
            this.otherEntries = otherEntries;
        }

        Configuration toConfig() {
            Map<String, String> map = new HashMap<>(otherEntries);
            map.put(option.key(), value);
            return Configuration.fromMap(map);
        }

        @Override
        public String toString() {
            return option.key() + "=" + value + (otherEntries.isEmpty() ? "" : " " + otherEntries);
        }
    }

    private static WrongValue wrong(ConfigOption<?> option, String value) {
        return new WrongValue(option, value, Collections.emptyMap());
    }

    private static WrongValue wrong(
            ConfigOption<?> option, String value, ConfigOption<?> other, String otherValue) {
        return new WrongValue(option, value, Collections.singletonMap(other.key(), otherValue));
    }

    static List<WrongValue> wrongValues() {
        List<WrongValue> values = new ArrayList<>();
        // state.backend.incremental
        values.add(wrong(IncrementalRocksDBOptions.INCREMENTAL_CHECKPOINTS, "maybe"));
        // state.backend.rocksdb.localdir
        values.add(wrong(IncrementalRocksDBOptions.LOCAL_DIRECTORIES, "relative/rocksdb"));
        values.add(wrong(IncrementalRocksDBOptions.LOCAL_DIRECTORIES, "hdfs://x"));
        values.add(wrong(IncrementalRocksDBOptions.LOCAL_DIRECTORIES, "s3://bucket/rocksdb"));
        values.add(wrong(IncrementalRocksDBOptions.LOCAL_DIRECTORIES, regularFile()));
        values.add(
                wrong(
                        IncrementalRocksDBOptions.LOCAL_DIRECTORIES,
                        tempDir.toAbsolutePath() + ",relative/second"));
        // state.backend.rocksdb.timer-service.factory
        values.add(wrong(IncrementalRocksDBOptions.TIMER_SERVICE_FACTORY, "FOO"));
        // state.backend.rocksdb.timer-service.cache-size
        values.add(wrong(IncrementalRocksDBOptions.TIMER_SERVICE_CACHE_SIZE, "0"));
        values.add(wrong(IncrementalRocksDBOptions.TIMER_SERVICE_CACHE_SIZE, "-3"));
        values.add(wrong(IncrementalRocksDBOptions.TIMER_SERVICE_CACHE_SIZE, "many"));
        // state.backend.rocksdb.memory.managed
        values.add(wrong(IncrementalRocksDBOptions.USE_MANAGED_MEMORY, "maybe"));
        // state.backend.incremental-rocksdb.ttl.background-cleanup
        values.add(wrong(IncrementalRocksDBOptions.TTL_BACKGROUND_CLEANUP, "sometimes"));
        // state.backend.incremental-rocksdb.checkpoint.upload-ahead
        values.add(wrong(IncrementalRocksDBOptions.CHECKPOINT_UPLOAD_AHEAD, "eventually"));
        // state.backend.incremental-rocksdb.checkpoint.verify-sst-files
        values.add(wrong(IncrementalRocksDBOptions.CHECKPOINT_VERIFY_SST_FILES, "sometimes"));
        // state.backend.incremental-rocksdb.local-recovery.verify-checksums
        values.add(wrong(IncrementalRocksDBOptions.LOCAL_RECOVERY_VERIFY_CHECKSUMS, "always"));
        // state.backend.incremental-rocksdb.compaction.tuned-for-incremental-checkpoints
        values.add(
                wrong(
                        IncrementalRocksDBOptions.COMPACTION_TUNED_FOR_INCREMENTAL_CHECKPOINTS,
                        "mostly"));
        // state.backend.incremental-rocksdb.block.data-block-hash-index
        values.add(wrong(IncrementalRocksDBOptions.DATA_BLOCK_HASH_INDEX, "sometimes"));
        // state.backend.incremental-rocksdb.blob-files.*
        values.add(wrong(IncrementalRocksDBOptions.BLOB_FILES_ENABLED, "sometimes"));
        values.add(wrong(IncrementalRocksDBOptions.BLOB_FILES_MIN_VALUE_SIZE, "large"));
        values.add(wrong(IncrementalRocksDBOptions.BLOB_FILES_FILE_SIZE, "0"));
        values.add(wrong(IncrementalRocksDBOptions.BLOB_FILES_FILE_SIZE, "abc"));
        values.add(wrong(IncrementalRocksDBOptions.BLOB_FILES_GC_AGE_CUTOFF, "-0.1"));
        values.add(wrong(IncrementalRocksDBOptions.BLOB_FILES_GC_AGE_CUTOFF, "1.5"));
        values.add(wrong(IncrementalRocksDBOptions.BLOB_FILES_GC_AGE_CUTOFF, "old"));
        // state.backend.rocksdb.memory.fixed-per-slot
        values.add(wrong(IncrementalRocksDBOptions.FIX_PER_SLOT_MEMORY_SIZE, "abc"));
        values.add(wrong(IncrementalRocksDBOptions.FIX_PER_SLOT_MEMORY_SIZE, "0"));
        // state.backend.rocksdb.memory.write-buffer-ratio
        values.add(wrong(IncrementalRocksDBOptions.WRITE_BUFFER_RATIO, "0"));
        values.add(wrong(IncrementalRocksDBOptions.WRITE_BUFFER_RATIO, "1.5"));
        values.add(wrong(IncrementalRocksDBOptions.WRITE_BUFFER_RATIO, "half"));
        // state.backend.rocksdb.memory.high-prio-pool-ratio
        values.add(wrong(IncrementalRocksDBOptions.HIGH_PRIORITY_POOL_RATIO, "0"));
        values.add(wrong(IncrementalRocksDBOptions.HIGH_PRIORITY_POOL_RATIO, "1.5"));
        values.add(wrong(IncrementalRocksDBOptions.HIGH_PRIORITY_POOL_RATIO, "tenth"));
        // the two ratios together exceed 1
        values.add(
                wrong(
                        IncrementalRocksDBOptions.HIGH_PRIORITY_POOL_RATIO,
                        "0.5",
                        IncrementalRocksDBOptions.WRITE_BUFFER_RATIO,
                        "0.75"));
        // state.backend.rocksdb.checkpoint.transfer.thread.num
        values.add(wrong(IncrementalRocksDBOptions.CHECKPOINT_TRANSFER_THREAD_NUM, "0"));
        values.add(wrong(IncrementalRocksDBOptions.CHECKPOINT_TRANSFER_THREAD_NUM, "-1"));
        values.add(wrong(IncrementalRocksDBOptions.CHECKPOINT_TRANSFER_THREAD_NUM, "four"));
        // state.backend.rocksdb.write-batch-size
        values.add(wrong(IncrementalRocksDBOptions.WRITE_BATCH_SIZE, "abc"));
        values.add(wrong(IncrementalRocksDBOptions.WRITE_BATCH_SIZE, "-1mb"));
        // state.backend.incremental-rocksdb.max-manifest-file-size
        values.add(wrong(IncrementalRocksDBOptions.UPLOAD_RETRIES, "-1"));
        values.add(wrong(IncrementalRocksDBOptions.UPLOAD_RETRIES, "three"));
        values.add(wrong(IncrementalRocksDBOptions.DOWNLOAD_RETRIES, "-2"));
        values.add(wrong(IncrementalRocksDBOptions.DOWNLOAD_RETRIES, "x"));
        values.add(wrong(IncrementalRocksDBOptions.RETRY_INITIAL_BACKOFF, "-5 ms"));
        values.add(wrong(IncrementalRocksDBOptions.RETRY_INITIAL_BACKOFF, "soon"));
        // shorter than the default initial backoff of 100 ms
        values.add(wrong(IncrementalRocksDBOptions.RETRY_MAX_BACKOFF, "50 ms"));
        values.add(wrong(IncrementalRocksDBOptions.RETRY_MAX_BACKOFF, "later"));
        values.add(wrong(IncrementalRocksDBOptions.MAX_MANIFEST_FILE_SIZE, "32kb"));
        values.add(wrong(IncrementalRocksDBOptions.MAX_MANIFEST_FILE_SIZE, "abc"));
        return values;
    }

    static Stream<Arguments> wrongValueArguments() {
        return wrongValues().stream().map(Arguments::of);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("wrongValueArguments")
    void factoryRejectsWrongValue(WrongValue wrongValue) {
        assertRejected(
                wrongValue,
                () ->
                        new IncrementalRocksDBStateBackendFactory()
                                .createFromConfig(wrongValue.toConfig(), CL));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("wrongValueArguments")
    void configureRejectsWrongValue(WrongValue wrongValue) {
        assertRejected(
                wrongValue,
                () -> new IncrementalRocksDBStateBackend().configure(wrongValue.toConfig(), CL));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("wrongValueArguments")
    void explicitSettingRejectsWrongValue(WrongValue wrongValue) {
        assertRejected(
                wrongValue,
                () -> {
                    IncrementalRocksDBStateBackend backend = new IncrementalRocksDBStateBackend();
                    for (Map.Entry<String, String> other : wrongValue.otherEntries.entrySet()) {
                        backend = backend.withSetting(other.getKey(), other.getValue());
                    }
                    backend.withSetting(wrongValue.option.key(), wrongValue.value);
                });
    }

    private static void assertRejected(WrongValue wrongValue, Executable creation) {
        assertThatThrownBy(creation::execute)
                .as("configuring %s", wrongValue)
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'" + wrongValue.option.key() + "'")
                .hasMessageContaining("'" + wrongValue.value + "'");
    }

    /** A new option without a wrong-value case above makes this test fail. */
    @Test
    void everyOptionHasWrongValueCases() throws IllegalAccessException {
        Set<String> allKeys = new TreeSet<>();
        for (Field field : IncrementalRocksDBOptions.class.getFields()) {
            if (Modifier.isStatic(field.getModifiers())
                    && ConfigOption.class.isAssignableFrom(field.getType())) {
                allKeys.add(((ConfigOption<?>) field.get(null)).key());
            }
        }
        Set<String> coveredKeys = new TreeSet<>();
        for (WrongValue wrongValue : wrongValues()) {
            coveredKeys.add(wrongValue.option.key());
        }
        assertThat(allKeys).hasSize(25);
        assertThat(coveredKeys).isEqualTo(allKeys);
    }

    @Test
    void defaults() throws Exception {
        for (IncrementalRocksDBStateBackend backend :
                new IncrementalRocksDBStateBackend[] {
                    new IncrementalRocksDBStateBackend(),
                    new IncrementalRocksDBStateBackend().configure(new Configuration(), CL),
                    (IncrementalRocksDBStateBackend)
                            new IncrementalRocksDBStateBackendFactory()
                                    .createFromConfig(new Configuration(), CL)
                }) {
            IncrementalRocksDBSettings settings = backend.getSettings();
            assertThat(settings.isIncrementalCheckpoints()).isTrue();
            assertThat(backend.isIncrementalCheckpointsEnabled()).isTrue();
            assertThat(settings.getTimerServiceType()).isEqualTo(PriorityQueueStateType.ROCKSDB);
            assertThat(settings.getTransferThreads()).isEqualTo(4);
            assertThat(settings.getUploadRetryPolicy().getRetries()).isEqualTo(3);
            assertThat(settings.getDownloadRetryPolicy().getRetries()).isEqualTo(3);
            assertThat(settings.getLocalDirectories()).isEmpty();
            assertThat(settings.getTimerCacheSize()).isEqualTo(128);
            assertThat(settings.isUseManagedMemory()).isTrue();
            assertThat(settings.getFixedMemoryPerSlot()).isEmpty();
            assertThat(settings.getWriteBufferRatio()).isEqualTo(0.5);
            assertThat(settings.getHighPriorityPoolRatio()).isEqualTo(0.1);
            assertThat(settings.getWriteBatchSize()).isEqualTo(2L << 20);
            assertThat(settings.getMaxManifestFileSize()).isEqualTo(4L << 20);
            assertThat(settings.isTtlBackgroundCleanup()).isTrue();
            assertThat(settings.isCheckpointUploadAhead()).isFalse();
            assertThat(settings.getUploadCheck()).isSameAs(LocalFileVerification.BEFORE_UPLOAD);
        }
    }

    private static Configuration validConfiguration(String localDirectories) {
        Map<String, String> map = new LinkedHashMap<>();
        map.put(IncrementalRocksDBOptions.INCREMENTAL_CHECKPOINTS.key(), "false");
        map.put(IncrementalRocksDBOptions.LOCAL_DIRECTORIES.key(), localDirectories);
        map.put(IncrementalRocksDBOptions.TIMER_SERVICE_FACTORY.key(), "HEAP");
        map.put(IncrementalRocksDBOptions.TIMER_SERVICE_CACHE_SIZE.key(), "7");
        map.put(IncrementalRocksDBOptions.USE_MANAGED_MEMORY.key(), "false");
        map.put(IncrementalRocksDBOptions.FIX_PER_SLOT_MEMORY_SIZE.key(), "16mb");
        map.put(IncrementalRocksDBOptions.WRITE_BUFFER_RATIO.key(), "0.6");
        map.put(IncrementalRocksDBOptions.HIGH_PRIORITY_POOL_RATIO.key(), "0.4");
        map.put(IncrementalRocksDBOptions.CHECKPOINT_TRANSFER_THREAD_NUM.key(), "9");
        map.put(IncrementalRocksDBOptions.UPLOAD_RETRIES.key(), "0");
        map.put(IncrementalRocksDBOptions.DOWNLOAD_RETRIES.key(), "6");
        map.put(IncrementalRocksDBOptions.RETRY_INITIAL_BACKOFF.key(), "1 s");
        map.put(IncrementalRocksDBOptions.RETRY_MAX_BACKOFF.key(), "1 min");
        map.put(IncrementalRocksDBOptions.WRITE_BATCH_SIZE.key(), "0");
        map.put(IncrementalRocksDBOptions.MAX_MANIFEST_FILE_SIZE.key(), "64kb");
        map.put(IncrementalRocksDBOptions.TTL_BACKGROUND_CLEANUP.key(), "false");
        map.put(IncrementalRocksDBOptions.CHECKPOINT_UPLOAD_AHEAD.key(), "true");
        map.put(IncrementalRocksDBOptions.CHECKPOINT_VERIFY_SST_FILES.key(), "false");
        return Configuration.fromMap(map);
    }

    @Test
    void validValuesAreAcceptedAndVisible() throws Exception {
        File first = tempDir.resolve("first").toFile();
        File second = tempDir.resolve("second").toFile();
        String localDirectories = first.getAbsolutePath() + "," + second.getAbsolutePath();
        Configuration config = validConfiguration(localDirectories);

        for (IncrementalRocksDBStateBackend backend :
                new IncrementalRocksDBStateBackend[] {
                    new IncrementalRocksDBStateBackend().configure(config, CL),
                    (IncrementalRocksDBStateBackend)
                            new IncrementalRocksDBStateBackendFactory().createFromConfig(config, CL)
                }) {
            IncrementalRocksDBSettings settings = backend.getSettings();
            assertThat(settings.isIncrementalCheckpoints()).isFalse();
            assertThat(settings.getLocalDirectories()).containsExactly(first, second);
            assertThat(settings.getTimerServiceType()).isEqualTo(PriorityQueueStateType.HEAP);
            assertThat(settings.getTimerCacheSize()).isEqualTo(7);
            assertThat(settings.isUseManagedMemory()).isFalse();
            assertThat(settings.isTtlBackgroundCleanup()).isFalse();
            assertThat(settings.isCheckpointUploadAhead()).isTrue();
            assertThat(settings.getUploadCheck()).isSameAs(UploadCheck.NONE);
            assertThat(settings.getFixedMemoryPerSlot()).contains(MemorySize.parse("16mb"));
            assertThat(settings.getWriteBufferRatio()).isEqualTo(0.6);
            assertThat(settings.getHighPriorityPoolRatio()).isEqualTo(0.4);
            assertThat(settings.getTransferThreads()).isEqualTo(9);
            assertThat(settings.getUploadRetryPolicy().getRetries()).isZero();
            assertThat(settings.getDownloadRetryPolicy().getRetries()).isEqualTo(6);
            assertThat(settings.getUploadRetryPolicy().backoffMillisWithoutJitter(1))
                    .isEqualTo(1000);
            assertThat(settings.getUploadRetryPolicy().backoffMillisWithoutJitter(10))
                    .isEqualTo(60_000);
            assertThat(settings.getWriteBatchSize()).isZero();
            assertThat(settings.getMaxManifestFileSize()).isEqualTo(64 * 1024);
        }
    }

    @Test
    void downloadRetriesFollowUploadRetriesUnlessSet() {
        Configuration config = new Configuration();
        config.setString(IncrementalRocksDBOptions.UPLOAD_RETRIES.key(), "7");
        IncrementalRocksDBSettings settings = IncrementalRocksDBSettings.fromConfig(config);
        assertThat(settings.getUploadRetryPolicy().getRetries()).isEqualTo(7);
        assertThat(settings.getDownloadRetryPolicy().getRetries()).isEqualTo(7);
    }

    @Test
    void localDirectoriesAcceptPathSeparatorAndNonExistingDirectories() {
        File existing = tempDir.toFile();
        File missing = tempDir.resolve("does/not/exist/yet").toFile();
        IncrementalRocksDBSettings settings =
                configureLocalDirectories(
                        existing.getAbsolutePath()
                                + File.pathSeparator
                                + missing.getAbsolutePath());
        assertThat(settings.getLocalDirectories()).containsExactly(existing, missing);
        // validation must not create directories
        assertThat(missing).doesNotExist();
    }

    /**
     * {@code file:} URIs are documented as local (the parser strips the scheme), also in a list
     * with the platform path separator.
     */
    @Test
    void localDirectoriesAcceptFileUris() {
        File first = tempDir.resolve("uri-first").toFile();
        File second = tempDir.resolve("uri-second").toFile();
        File third = tempDir.resolve("uri-third").toFile();
        assertThat(
                        configureLocalDirectories("file://" + first.getAbsolutePath())
                                .getLocalDirectories())
                .containsExactly(first);
        assertThat(
                        configureLocalDirectories("file:" + first.getAbsolutePath())
                                .getLocalDirectories())
                .containsExactly(first);
        assertThat(
                        configureLocalDirectories(
                                        "file://"
                                                + first.getAbsolutePath()
                                                + ","
                                                + second.getAbsolutePath()
                                                + File.pathSeparator
                                                + "file:"
                                                + third.getAbsolutePath())
                                .getLocalDirectories())
                .containsExactly(first, second, third);
    }

    /** A non-local scheme is rejected because it is not local, not for a misleading reason. */
    @Test
    void nonLocalSchemeIsReportedAsNotLocal() {
        assertThatThrownBy(() -> configureLocalDirectories("hdfs://namenode/rocksdb"))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'hdfs://namenode/rocksdb'")
                .hasMessageContaining("not on the local file system");
    }

    private static IncrementalRocksDBSettings configureLocalDirectories(String value) {
        Configuration config =
                Configuration.fromMap(
                        Collections.singletonMap(
                                IncrementalRocksDBOptions.LOCAL_DIRECTORIES.key(), value));
        return new IncrementalRocksDBStateBackend().configure(config, CL).getSettings();
    }

    @Test
    void explicitSettingsWinOverConfiguration() {
        File explicitDir = tempDir.resolve("explicit").toFile();
        IncrementalRocksDBStateBackend explicit =
                new IncrementalRocksDBStateBackend()
                        .withIncrementalCheckpoints(true)
                        .withTimerService(PriorityQueueStateType.ROCKSDB)
                        .withTransferThreads(2)
                        .withFixedMemoryPerSlot(MemorySize.parse("8mb"))
                        .withLocalDirectories(explicitDir.getAbsolutePath())
                        .withSetting(IncrementalRocksDBOptions.WRITE_BUFFER_RATIO.key(), "0.3");

        IncrementalRocksDBStateBackend configured =
                explicit.configure(validConfiguration(tempDir.toAbsolutePath().toString()), CL);
        IncrementalRocksDBSettings settings = configured.getSettings();
        assertThat(settings.isIncrementalCheckpoints()).isTrue();
        assertThat(settings.getTimerServiceType()).isEqualTo(PriorityQueueStateType.ROCKSDB);
        assertThat(settings.getTransferThreads()).isEqualTo(2);
        assertThat(settings.getFixedMemoryPerSlot()).contains(MemorySize.parse("8mb"));
        assertThat(settings.getLocalDirectories()).containsExactly(explicitDir);
        assertThat(settings.getWriteBufferRatio()).isEqualTo(0.3);
        // what was not set explicitly comes from the configuration
        assertThat(settings.getTimerCacheSize()).isEqualTo(7);
        assertThat(settings.getHighPriorityPoolRatio()).isEqualTo(0.4);
        assertThat(settings.getMaxManifestFileSize()).isEqualTo(64 * 1024);

        // the explicit settings survive a second configure, the first configuration does not
        IncrementalRocksDBSettings reconfigured =
                configured.configure(new Configuration(), CL).getSettings();
        assertThat(reconfigured.getTransferThreads()).isEqualTo(2);
        assertThat(reconfigured.getTimerServiceType()).isEqualTo(PriorityQueueStateType.ROCKSDB);
        assertThat(reconfigured.getTimerCacheSize()).isEqualTo(128);
        assertThat(reconfigured.getHighPriorityPoolRatio()).isEqualTo(0.1);

        // the original instance is unchanged (instances are immutable)
        assertThat(explicit.getSettings().getTimerCacheSize()).isEqualTo(128);
    }

    @Test
    void explicitSettingsOverrideWrongConfiguredValues() {
        Map<String, String> map = new HashMap<>();
        map.put(IncrementalRocksDBOptions.CHECKPOINT_TRANSFER_THREAD_NUM.key(), "0");
        map.put(IncrementalRocksDBOptions.TIMER_SERVICE_FACTORY.key(), "FOO");
        Configuration config = Configuration.fromMap(map);

        IncrementalRocksDBStateBackend backend =
                new IncrementalRocksDBStateBackend()
                        .withTransferThreads(3)
                        .withTimerService(PriorityQueueStateType.HEAP);
        assertThatCode(() -> backend.configure(config, CL)).doesNotThrowAnyException();
        IncrementalRocksDBSettings settings = backend.configure(config, CL).getSettings();
        assertThat(settings.getTransferThreads()).isEqualTo(3);
        assertThat(settings.getTimerServiceType()).isEqualTo(PriorityQueueStateType.HEAP);
    }

    @Test
    void incrementalConstructorIsAnExplicitSetting() {
        Configuration config =
                Configuration.fromMap(
                        Collections.singletonMap(
                                IncrementalRocksDBOptions.INCREMENTAL_CHECKPOINTS.key(), "true"));
        assertThat(
                        new IncrementalRocksDBStateBackend(false)
                                .configure(config, CL)
                                .isIncrementalCheckpointsEnabled())
                .isFalse();
        assertThat(
                        new IncrementalRocksDBStateBackend()
                                .withIncrementalCheckpoints(false)
                                .configure(config, CL)
                                .isIncrementalCheckpointsEnabled())
                .isFalse();
    }
}
