package io.statebackend.incremental.loader;

import org.apache.flink.configuration.ConfigConstants;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.core.plugin.PluginDescriptor;
import org.apache.flink.core.plugin.PluginLoader;
import org.apache.flink.runtime.state.StateBackendFactory;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Finds the factory that creates the backend: directly when the backend's classes are visible
 * (tests, a MiniCluster, a job jar), otherwise inside {@code plugins/statebackend-incremental/},
 * opened once per JVM with Flink's plugin class loader so that the upstream RocksDB there is not
 * shadowed by the FRocksDB Flink bundles.
 *
 * <p>This class and the factory are the whole loader jar: it may refer to Flink and JDK classes
 * only.
 */
public final class BackendLocator {

    private static final Logger LOG = LoggerFactory.getLogger(BackendLocator.class);

    /** The folder below Flink's plugins directory that holds the backend. */
    public static final String PLUGIN_FOLDER = "statebackend-incremental";

    static final String BACKEND_CLASS =
            "io.statebackend.incremental.IncrementalRocksDBStateBackend";
    static final String DIRECT_FACTORY = "io.statebackend.incremental.loader.DirectBackendFactory";

    private static final Object LOCK = new Object();

    /** The plugin's class loader, opened at most once per JVM and never closed. */
    private static volatile ClassLoader pluginClassLoader;

    private BackendLocator() {}

    /** The factory to delegate to. */
    @SuppressWarnings("unchecked")
    public static StateBackendFactory<?> locate(ReadableConfig config) {
        ClassLoader own = BackendLocator.class.getClassLoader();
        ClassLoader loader = isVisible(BACKEND_CLASS, own) ? own : pluginClassLoader(config);
        try {
            Class<?> factory = Class.forName(DIRECT_FACTORY, true, loader);
            return (StateBackendFactory<?>) factory.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new IllegalConfigurationException(
                    "Could not load the incremental RocksDB state backend from " + describe(loader),
                    e);
        }
    }

    private static ClassLoader pluginClassLoader(ReadableConfig config) {
        ClassLoader loader = pluginClassLoader;
        if (loader != null) {
            return loader;
        }
        synchronized (LOCK) {
            if (pluginClassLoader == null) {
                pluginClassLoader = openPlugin(config);
            }
            return pluginClassLoader;
        }
    }

    private static ClassLoader openPlugin(ReadableConfig config) {
        File pluginsDir = pluginsDirectory();
        File folder = new File(pluginsDir, PLUGIN_FOLDER);
        File[] jars = folder.listFiles((dir, name) -> name.endsWith(".jar"));
        if (jars == null || jars.length == 0) {
            throw new IllegalConfigurationException(
                    "The incremental RocksDB state backend is not installed: "
                            + folder.getAbsolutePath()
                            + " does not exist or holds no jar. Unpack the distribution tarball"
                            + " into $FLINK_HOME, or set "
                            + ConfigConstants.ENV_FLINK_PLUGINS_DIR
                            + " to the plugins directory that holds "
                            + PLUGIN_FOLDER
                            + "/.");
        }
        Arrays.sort(jars);
        List<URL> urls = new ArrayList<>(jars.length);
        for (File jar : jars) {
            try {
                urls.add(jar.toURI().toURL());
            } catch (MalformedURLException e) {
                throw new IllegalConfigurationException("Invalid plugin jar " + jar, e);
            }
        }
        Configuration flinkConfig = Configuration.fromMap(config.toMap());
        String[] parentFirst = CoreOptions.getPluginParentFirstLoaderPatterns(flinkConfig);
        PluginDescriptor descriptor =
                new PluginDescriptor(PLUGIN_FOLDER, urls.toArray(new URL[0]), new String[0]);
        // the loader lives as long as the JVM: backends created from it may run at any time
        ClassLoader loader =
                PluginLoader.createPluginClassLoader(
                        descriptor, BackendLocator.class.getClassLoader(), parentFirst);
        LOG.info("Loaded the incremental RocksDB state backend from plugin folder {}.", folder);
        return loader;
    }

    /** Flink's plugins directory: {@code FLINK_PLUGINS_DIR}, else {@code plugins}. */
    static File pluginsDirectory() {
        String configured = System.getenv(ConfigConstants.ENV_FLINK_PLUGINS_DIR);
        if (configured == null || configured.isEmpty()) {
            configured = System.getProperty("flink.plugins.dir");
        }
        if (configured == null || configured.isEmpty()) {
            configured = ConfigConstants.DEFAULT_FLINK_PLUGINS_DIRS;
        }
        try {
            return new File(configured).getCanonicalFile();
        } catch (IOException e) {
            return new File(configured).getAbsoluteFile();
        }
    }

    private static boolean isVisible(String className, ClassLoader loader) {
        try {
            Class.forName(className, false, loader);
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    private static String describe(ClassLoader loader) {
        return loader == BackendLocator.class.getClassLoader()
                ? "the class path"
                : "plugin folder " + new File(pluginsDirectory(), PLUGIN_FOLDER);
    }
}
