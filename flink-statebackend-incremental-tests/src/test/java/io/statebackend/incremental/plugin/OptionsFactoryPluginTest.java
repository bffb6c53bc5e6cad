package io.statebackend.incremental.plugin;

import io.statebackend.incremental.IncrementalRocksDBStateBackendFactory;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.core.plugin.PluginDescriptor;
import org.apache.flink.core.plugin.PluginLoader;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An options factory in its own jar in the plugin folder, compiled against upstream RocksDB and the
 * backend as a user would, is loaded beside the backend, configured from the job's configuration,
 * and its settings are in the OPTIONS file of the database the backend opens. A factory written for
 * Flink's backend is rejected with a hint how to port it.
 */
class OptionsFactoryPluginTest {

    private static final String FACTORY_CLASS = "com.example.tuning.TunedOptionsFactory";

    /** Uses an option that only upstream RocksDB has, so FRocksDB could not have set it. */
    private static final String FACTORY_SOURCE =
            String.join(
                    "\n",
                    "package com.example.tuning;",
                    "",
                    "import io.statebackend.incremental.ConfigurableIncrementalRocksDBOptionsFactory;",
                    "import io.statebackend.incremental.IncrementalRocksDBOptionsFactory;",
                    "import org.apache.flink.configuration.ConfigOptions;",
                    "import org.apache.flink.configuration.ReadableConfig;",
                    "import org.rocksdb.ColumnFamilyOptions;",
                    "import org.rocksdb.DBOptions;",
                    "import java.util.Collection;",
                    "",
                    "public class TunedOptionsFactory implements ConfigurableIncrementalRocksDBOptionsFactory {",
                    "    private int backgroundJobs = 3;",
                    "    public DBOptions createDBOptions(DBOptions options, Collection<AutoCloseable> handles) {",
                    "        return options.setMaxBackgroundJobs(backgroundJobs);",
                    "    }",
                    "    public ColumnFamilyOptions createColumnOptions(",
                    "            ColumnFamilyOptions options, Collection<AutoCloseable> handles) {",
                    "        return options.setMemtableMaxRangeDeletions(77).setNumLevels(5);",
                    "    }",
                    "    public IncrementalRocksDBOptionsFactory configure(ReadableConfig config) {",
                    "        backgroundJobs = config.get(ConfigOptions.key(\"tuning.background-jobs\")",
                    "                .intType().defaultValue(3));",
                    "        return this;",
                    "    }",
                    "}",
                    "");

    @Test
    void factoryFromThePluginFolderTunesTheDatabase(@TempDir Path tmp) throws Exception {
        Path pluginDir = tmp.resolve("plugins").resolve(FlinkHome.PLUGIN_FOLDER);
        Files.createDirectories(pluginDir);
        List<Path> distributionJars = new ArrayList<>();
        try (DirectoryStream<Path> jars =
                Files.newDirectoryStream(
                        FlinkHome.pluginsDir().resolve(FlinkHome.PLUGIN_FOLDER), "*.jar")) {
            for (Path jar : jars) {
                distributionJars.add(Files.copy(jar, pluginDir.resolve(jar.getFileName())));
            }
        }
        buildFactoryJar(tmp.resolve("factory-build"), distributionJars, pluginDir);

        List<URL> urls = new ArrayList<>();
        try (Stream<Path> jars = Files.list(pluginDir)) {
            for (Path jar : (Iterable<Path>) jars::iterator) {
                urls.add(jar.toUri().toURL());
            }
        }
        try (URLClassLoader plugin =
                PluginLoader.createPluginClassLoader(
                        new PluginDescriptor(
                                FlinkHome.PLUGIN_FOLDER, urls.toArray(new URL[0]), new String[0]),
                        getClass().getClassLoader(),
                        CoreOptions.getPluginParentFirstLoaderPatterns(new Configuration()))) {
            Configuration config = new Configuration();
            config.setString("state.backend.rocksdb.options-factory", FACTORY_CLASS);
            config.setString("state.backend.rocksdb.thread.num", "2");
            config.setString("state.backend.rocksdb.block.blocksize", "32kb");
            config.setString("tuning.background-jobs", "9");

            Class<?> backendClass = Class.forName(FlinkHome.BACKEND_CLASS, true, plugin);
            Object backend =
                    backendClass
                            .getMethod("configure", ReadableConfig.class, ClassLoader.class)
                            .invoke(
                                    backendClass.getConstructor().newInstance(),
                                    config,
                                    getClass().getClassLoader());
            Object settings = backendClass.getMethod("getSettings").invoke(backend);
            Object factory = settings.getClass().getMethod("getOptionsFactory").invoke(settings);
            assertThat(factory.getClass().getName()).isEqualTo(FACTORY_CLASS);
            assertThat(factory.getClass().getClassLoader()).isSameAs(plugin);

            File db = tmp.resolve("db").toFile();
            openAndClose(plugin, settings, db);

            Map<String, String> options = optionsFile(db);
            // from the factory, configured with the job's configuration; it wins over the key
            assertThat(options.get("DBOptions/max_background_jobs")).isEqualTo("9");
            assertThat(options.get("CFOptions \"default\"/memtable_max_range_deletions"))
                    .isEqualTo("77");
            assertThat(options.get("CFOptions \"default\"/num_levels")).isEqualTo("5");
            // the configured key the factory leaves alone
            assertThat(options.get("TableOptions/BlockBasedTable \"default\"/block_size"))
                    .isEqualTo("32768");
        }
    }

    @Test
    void factoryForFlinksBackendIsRejectedWithAPortingHint() {
        Configuration config = new Configuration();
        config.setString(
                "state.backend.rocksdb.options-factory", FlinkStyleOptionsFactory.class.getName());
        assertThatThrownBy(
                        () ->
                                new IncrementalRocksDBStateBackendFactory()
                                        .createFromConfig(config, getClass().getClassLoader()))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'state.backend.rocksdb.options-factory'")
                .hasMessageContaining("'" + FlinkStyleOptionsFactory.class.getName() + "'")
                .hasMessageContaining(
                        "org.apache.flink.contrib.streaming.state.RocksDBOptionsFactory")
                .hasMessageContaining(
                        "implement io.statebackend.incremental.IncrementalRocksDBOptionsFactory")
                .hasMessageContaining("plugins/statebackend-incremental/");
    }

    /** Compiles the factory against the distribution's jars and Flink, as a user would. */
    private static void buildFactoryJar(Path buildDir, List<Path> distributionJars, Path pluginDir)
            throws IOException {
        Path sources = buildDir.resolve("src/com/example/tuning");
        Files.createDirectories(sources);
        Path source = sources.resolve("TunedOptionsFactory.java");
        Files.write(source, FACTORY_SOURCE.getBytes(StandardCharsets.UTF_8));
        Path classes = Files.createDirectories(buildDir.resolve("classes"));

        StringBuilder classPath = new StringBuilder();
        for (Path jar : distributionJars) {
            // first, so that org.rocksdb is upstream RocksDB, not FRocksDB from the class path
            classPath.append(jar).append(File.pathSeparator);
        }
        classPath.append(System.getProperty("java.class.path"));
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertThat(javac).as("a JDK with javac").isNotNull();
        int exit =
                javac.run(
                        null,
                        null,
                        null,
                        "-proc:none",
                        "-classpath",
                        classPath.toString(),
                        "-d",
                        classes.toString(),
                        source.toString());
        assertThat(exit).as("javac exit code").isZero();

        Path jar = pluginDir.resolve("tuned-options-factory.jar");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
                Stream<Path> files = Files.walk(classes)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(file)) {
                    String name =
                            classes.relativize(file).toString().replace(File.separatorChar, '/');
                    out.putNextEntry(new JarEntry(name));
                    Files.copy(file, (OutputStream) out);
                    out.closeEntry();
                }
            }
        }
    }

    /** Opens and closes a database with the backend's options, inside the plugin. */
    private static void openAndClose(ClassLoader plugin, Object settings, File db)
            throws Exception {
        Class<?> containerClass =
                Class.forName(
                        "io.statebackend.incremental.rocksdb.options.RocksDBOptionsContainer",
                        true,
                        plugin);
        Class<?> configuredClass =
                Class.forName(
                        "io.statebackend.incremental.rocksdb.options.ConfiguredRocksDBOptions",
                        true,
                        plugin);
        Class<?> factoryInterface =
                Class.forName(
                        "io.statebackend.incremental.IncrementalRocksDBOptionsFactory",
                        true,
                        plugin);
        Class<?> memoryClass =
                Class.forName(
                        "io.statebackend.incremental.rocksdb.RocksDBMemoryResources", true, plugin);
        Object container =
                containerClass
                        .getConstructor(
                                configuredClass,
                                factoryInterface,
                                memoryClass,
                                long.class,
                                File.class)
                        .newInstance(
                                settings.getClass().getMethod("getRocksDBOptions").invoke(settings),
                                settings.getClass().getMethod("getOptionsFactory").invoke(settings),
                                null,
                                settings.getClass()
                                        .getMethod("getMaxManifestFileSize")
                                        .invoke(settings),
                                db);
        Class<?> instanceClass =
                Class.forName("io.statebackend.incremental.rocksdb.RocksDBInstance", true, plugin);
        Method open =
                instanceClass.getMethod("open", File.class, containerClass, List.class, List.class);
        AutoCloseable instance =
                (AutoCloseable)
                        open.invoke(
                                null, db, container, Collections.emptyList(), new ArrayList<>());
        instance.close();
    }

    /** The newest OPTIONS file of the database as "section/name" to value. */
    private static Map<String, String> optionsFile(File db) throws IOException {
        File newest = null;
        for (File file : db.listFiles((dir, name) -> name.matches("OPTIONS-\\d+"))) {
            if (newest == null
                    || Long.parseLong(file.getName().substring(8))
                            > Long.parseLong(newest.getName().substring(8))) {
                newest = file;
            }
        }
        assertThat(newest).as("OPTIONS file in %s", db).isNotNull();
        Map<String, String> values = new HashMap<>();
        String section = "";
        for (String raw : Files.readAllLines(newest.toPath(), StandardCharsets.UTF_8)) {
            String line = raw.trim();
            if (line.startsWith("[") && line.endsWith("]")) {
                section = line.substring(1, line.length() - 1);
            } else if (!line.startsWith("#") && line.contains("=")) {
                int equals = line.indexOf('=');
                values.put(section + "/" + line.substring(0, equals), line.substring(equals + 1));
            }
        }
        return values;
    }
}
