package io.statebackend.incremental.packaging;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The distribution tarball, as the backend module builds it and users unpack it into {@code
 * $FLINK_HOME}: a loader jar for {@code lib/} that holds nothing but the factory and what finds the
 * plugin, a plugin folder with exactly the backend jar and upstream RocksDB, none of which holds a
 * class under {@code org/apache/flink/} (the plugin class loader would take those from Flink,
 * parent-first), and the checkpoint inspector: its command in {@code bin/} and a jar of its own
 * classes in {@code opt/}.
 */
class DistributionPackagingTest {

    private static final String PLUGIN_DIR = "plugins/statebackend-incremental/";

    private static final String INSPECTOR_COMMAND = "bin/statebackend-inspect";

    private static String version;
    private static String rocksDbVersion;
    private static Path tarball;
    private static Path flinkHome;

    @BeforeAll
    static void locateDistribution() {
        version = requiredProperty("test.project.version");
        rocksDbVersion = requiredProperty("test.rocksdb.version");
        tarball = Paths.get(requiredProperty("test.dist.tarball"));
        flinkHome = Paths.get(requiredProperty("test.flink.home"));
        assertThat(tarball).isRegularFile();
    }

    @Test
    void tarballHoldsTheLoaderInLibAndTheBackendWithRocksDBInItsPluginFolder() throws IOException {
        assertThat(tarFiles())
                .containsExactlyInAnyOrder(
                        loaderJarPath(),
                        backendJarPath(),
                        PLUGIN_DIR + rocksDbJarName(),
                        inspectorJarPath(),
                        INSPECTOR_COMMAND);
    }

    @Test
    void inspectorJarHoldsOnlyTheInspectorsOwnClasses() throws IOException {
        assertThat(classesAndResourcesOutsideMetaInf(flinkHome.resolve(inspectorJarPath())))
                .isNotEmpty()
                .contains("io/statebackend/incremental/inspect/InspectorMain.class")
                .allMatch(entry -> entry.startsWith("io/statebackend/incremental/inspect/"));
    }

    @Test
    void inspectorCommandIsAnExecutableShellScript() throws IOException {
        assertThat(tarEntry(INSPECTOR_COMMAND).getMode() & 0111)
                .as("execute bits of %s", INSPECTOR_COMMAND)
                .isEqualTo(0111);
        assertThat(Files.readString(flinkHome.resolve(INSPECTOR_COMMAND)))
                .startsWith("#!/bin/sh\n")
                .contains("io.statebackend.incremental.inspect.InspectorMain");
    }

    @Test
    void unpackedDistributionMatchesTheTarball() throws IOException {
        final List<String> unpacked;
        try (Stream<Path> files = Files.walk(flinkHome)) {
            unpacked =
                    files.filter(Files::isRegularFile)
                            .map(file -> flinkHome.relativize(file).toString().replace('\\', '/'))
                            .collect(Collectors.toList());
        }
        assertThat(unpacked).containsExactlyInAnyOrderElementsOf(tarFiles());
    }

    @Test
    void loaderJarHoldsOnlyTheFactoryAndTheLocator() throws IOException {
        assertThat(classesAndResourcesOutsideMetaInf(flinkHome.resolve(loaderJarPath())))
                .containsExactlyInAnyOrder(
                        "io/statebackend/incremental/IncrementalRocksDBStateBackendFactory.class",
                        "io/statebackend/incremental/loader/BackendLocator.class");
    }

    @Test
    void loaderClassesAreTheBackendsOwn() throws IOException {
        final Path loader = flinkHome.resolve(loaderJarPath());
        final Path backend = flinkHome.resolve(backendJarPath());
        for (String entry : classesAndResourcesOutsideMetaInf(loader)) {
            assertThat(read(loader, entry)).as(entry).isEqualTo(read(backend, entry));
        }
    }

    @Test
    void backendJarHoldsTheBackendAndWhatTheLoaderLooksUpByName() throws IOException {
        assertThat(classesAndResourcesOutsideMetaInf(flinkHome.resolve(backendJarPath())))
                .contains(
                        "io/statebackend/incremental/IncrementalRocksDBStateBackend.class",
                        "io/statebackend/incremental/IncrementalRocksDBStateBackendFactory.class",
                        "io/statebackend/incremental/loader/BackendLocator.class",
                        "io/statebackend/incremental/loader/DirectBackendFactory.class",
                        "io/statebackend/incremental/loader/RocksDBVersionGuard.class");
    }

    @Test
    void rocksDbJarIsUpstreamRocksDBWithItsLinuxLibrary() throws IOException {
        assertThat(
                        classesAndResourcesOutsideMetaInf(
                                flinkHome.resolve(PLUGIN_DIR + rocksDbJarName())))
                .contains(
                        "org/rocksdb/RocksDB.class",
                        "org/rocksdb/HyperClockCache.class",
                        "librocksdbjni-linux64.so")
                .doesNotContain("org/rocksdb/FlinkCompactionFilter.class");
    }

    @Test
    void noPluginJarHoldsFlinkClasses() throws IOException {
        for (String jar : List.of(backendJarPath(), PLUGIN_DIR + rocksDbJarName())) {
            assertThat(classesAndResourcesOutsideMetaInf(flinkHome.resolve(jar)))
                    .as(jar)
                    .isNotEmpty()
                    .noneMatch(entry -> entry.startsWith("org/apache/flink/"));
        }
    }

    // ------------------------------------------------------------------------

    private static String inspectorJarPath() {
        return "opt/flink-statebackend-incremental-inspect-" + version + ".jar";
    }

    private static String loaderJarPath() {
        return "lib/flink-statebackend-incremental-loader-" + version + ".jar";
    }

    private static String backendJarPath() {
        return PLUGIN_DIR + "flink-statebackend-incremental-" + version + ".jar";
    }

    private static String rocksDbJarName() {
        return "rocksdbjni-" + rocksDbVersion + ".jar";
    }

    private static TarArchiveEntry tarEntry(String path) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(tarball));
                TarArchiveInputStream tar = new TarArchiveInputStream(new GZIPInputStream(in))) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                if (entry.getName().equals(path)) {
                    return entry;
                }
            }
        }
        throw new AssertionError(path + " is not in " + tarball);
    }

    /** The regular files in the tarball, by path. */
    private static List<String> tarFiles() throws IOException {
        final List<String> files = new ArrayList<>();
        try (InputStream in = new BufferedInputStream(Files.newInputStream(tarball));
                TarArchiveInputStream tar = new TarArchiveInputStream(new GZIPInputStream(in))) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                if (entry.isFile()) {
                    files.add(entry.getName());
                }
            }
        }
        return files;
    }

    /** The jar's entries that are neither directories nor below {@code META-INF/}. */
    private static TreeSet<String> classesAndResourcesOutsideMetaInf(Path jar) throws IOException {
        assertThat(jar).isRegularFile();
        final TreeSet<String> entries = new TreeSet<>();
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            final Enumeration<? extends ZipEntry> all = zip.entries();
            while (all.hasMoreElements()) {
                final ZipEntry entry = all.nextElement();
                if (!entry.isDirectory() && !entry.getName().startsWith("META-INF/")) {
                    entries.add(entry.getName());
                }
            }
        }
        return entries;
    }

    private static byte[] read(Path jar, String entry) throws IOException {
        try (ZipFile zip = new ZipFile(jar.toFile());
                InputStream in =
                        Objects.requireNonNull(
                                zip.getInputStream(
                                        Objects.requireNonNull(zip.getEntry(entry), entry)))) {
            return in.readAllBytes();
        }
    }

    private static String requiredProperty(String name) {
        final String value = System.getProperty(name);
        assertThat(value)
                .as("system property %s (set by the tests module's surefire configuration)", name)
                .isNotBlank()
                .doesNotContain("${");
        return value;
    }
}
