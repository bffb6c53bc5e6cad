package io.statebackend.incremental.plugin;

import io.statebackend.incremental.IncrementalRocksDBStateBackendFactory;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.FallbackKey;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every configuration key of Flink 1.20's RocksDB backend ({@code RocksDBOptions}, {@code
 * RocksDBConfigurableOptions}, {@code RocksDBNativeMetricOptions}, read by reflection from Flink's
 * classes on this class path) is known to the backend loaded from the plugin folder: applied with
 * the same type and default, declared not applicable with a reason, or left to the native metrics.
 * A key Flink adds in a later 1.20.x fails here until the backend decides about it.
 */
class FlinkKeyCoverageTest {

    private static final String FLINK_PACKAGE = "org.apache.flink.contrib.streaming.state.";

    private static final String[] FLINK_OPTION_CLASSES = {
        FLINK_PACKAGE + "RocksDBOptions",
        FLINK_PACKAGE + "RocksDBConfigurableOptions",
        FLINK_PACKAGE + "RocksDBNativeMetricOptions"
    };

    private static final String[] BACKEND_OPTION_CLASSES = {
        "io.statebackend.incremental.IncrementalRocksDBOptions",
        "io.statebackend.incremental.IncrementalRocksDBConfigurableOptions"
    };

    private static final String REGISTRY =
            "io.statebackend.incremental.rocksdb.options.FlinkRocksDBKeys";

    private static ClassLoader plugin;

    @BeforeAll
    static void loadPlugin() throws Exception {
        plugin =
                new IncrementalRocksDBStateBackendFactory()
                        .createFromConfig(
                                new Configuration(), FlinkKeyCoverageTest.class.getClassLoader())
                        .getClass()
                        .getClassLoader();
        assertThat(plugin.getClass().getName())
                .isEqualTo("org.apache.flink.core.plugin.PluginLoader$PluginClassLoader");
    }

    @Test
    void everyKeyOfFlinksIsAppliedDeclaredNotApplicableOrLeftToTheMetrics() throws Exception {
        Map<String, ConfigOption<?>> flinkKeys = new TreeMap<>();
        for (String className : FLINK_OPTION_CLASSES) {
            flinkKeys.putAll(options(Class.forName(className)));
        }
        Method describe = Class.forName(REGISTRY, true, plugin).getMethod("describe", String.class);

        Map<String, String> handling = new TreeMap<>();
        Set<String> unknown = new TreeSet<>();
        for (String key : flinkKeys.keySet()) {
            String description = (String) describe.invoke(null, key);
            if (description == null) {
                unknown.add(key);
            } else {
                handling.put(key, description);
            }
        }
        assertThat(unknown).as("keys of Flink's the backend does not know").isEmpty();

        List<String> applied = new ArrayList<>();
        List<String> notApplicable = new ArrayList<>();
        List<String> metrics = new ArrayList<>();
        for (Map.Entry<String, String> entry : handling.entrySet()) {
            String description = entry.getValue();
            if (description.equals("APPLIED")) {
                applied.add(entry.getKey());
            } else if (description.equals("METRICS")) {
                metrics.add(entry.getKey());
            } else {
                assertThat(description)
                        .as("handling of %s", entry.getKey())
                        .startsWith("NOT_APPLICABLE: ")
                        .hasSizeGreaterThan("NOT_APPLICABLE: ".length() + 20);
                notApplicable.add(entry.getKey() + " (" + description.substring(16) + ")");
            }
        }
        System.out.printf(
                "Flink 1.20 RocksDB keys: %d; applied %d, not applicable %d, native metrics %d%n",
                flinkKeys.size(), applied.size(), notApplicable.size(), metrics.size());
        notApplicable.forEach(line -> System.out.println("  not applicable: " + line));

        assertThat(metrics)
                .allSatisfy(key -> assertThat(key).startsWith("state.backend.rocksdb.metrics."));
        assertThat(applied.size() + notApplicable.size() + metrics.size())
                .isEqualTo(flinkKeys.size());
    }

    /**
     * The backend defines every key of Flink's it knows under the same name, type, default and
     * deprecated names, so that a value written for Flink's backend parses the same here.
     */
    /** Keys whose default differs on purpose, with the reason the README also gives. */
    private static final Map<String, String> DIFFERENT_DEFAULTS =
            Map.of(
                    "state.backend.rocksdb.use-ingest-db-restore-mode",
                    "rescaling by moving files is this backend's default; Flink 1.20 defaults to"
                            + " false because FRocksDB cannot import column families");

    @Test
    void backendDefinesFlinksKeysWithTheSameTypeAndDefault() throws Exception {
        Map<String, ConfigOption<?>> flinkKeys = new TreeMap<>();
        for (String className : FLINK_OPTION_CLASSES) {
            if (!className.endsWith("NativeMetricOptions")) {
                flinkKeys.putAll(options(Class.forName(className)));
            }
        }
        Map<String, ConfigOption<?>> backendKeys = new TreeMap<>();
        for (String className : BACKEND_OPTION_CLASSES) {
            backendKeys.putAll(options(Class.forName(className, true, plugin)));
        }
        for (Map.Entry<String, ConfigOption<?>> entry : flinkKeys.entrySet()) {
            String key = entry.getKey();
            ConfigOption<?> flink = entry.getValue();
            ConfigOption<?> ours = backendKeys.get(key);
            assertThat(ours).as("the backend's option %s", key).isNotNull();
            assertThat(typeName(ours)).as("type of %s", key).isEqualTo(typeName(flink));
            // every value Flink accepts parses here too
            assertThat(enumConstants(ours))
                    .as("values of %s", key)
                    .containsAll(enumConstants(flink));
            if (!DIFFERENT_DEFAULTS.containsKey(key)) {
                assertThat(String.valueOf(ours.defaultValue()))
                        .as("default of %s", key)
                        .isEqualTo(String.valueOf(flink.defaultValue()));
            }
            assertThat(fallbackKeys(ours))
                    .as("deprecated keys of %s", key)
                    .isEqualTo(fallbackKeys(flink));
        }
    }

    private static Map<String, ConfigOption<?>> options(Class<?> holder)
            throws IllegalAccessException {
        Map<String, ConfigOption<?>> options = new TreeMap<>();
        for (Field field : holder.getDeclaredFields()) {
            if (Modifier.isStatic(field.getModifiers())
                    && ConfigOption.class.isAssignableFrom(field.getType())) {
                field.setAccessible(true);
                ConfigOption<?> option = (ConfigOption<?>) field.get(null);
                options.put(option.key(), option);
            }
        }
        return options;
    }

    /**
     * The value class by name (FRocksDB's and upstream's enums share names), or "enum" for the
     * enums of the backends' own packages, and list-ness.
     */
    private static String typeName(ConfigOption<?> option) throws Exception {
        Class<?> type = valueClass(option);
        Method isList = ConfigOption.class.getDeclaredMethod("isList");
        isList.setAccessible(true);
        String name =
                type.isEnum() && !type.getName().startsWith("org.rocksdb.")
                        ? "enum"
                        : type.getName();
        return name + ((Boolean) isList.invoke(option) ? "[]" : "");
    }

    private static Set<String> enumConstants(ConfigOption<?> option) throws Exception {
        Set<String> names = new TreeSet<>();
        Class<?> type = valueClass(option);
        if (type.isEnum()) {
            for (Object constant : type.getEnumConstants()) {
                names.add(((Enum<?>) constant).name());
            }
        }
        return names;
    }

    private static Class<?> valueClass(ConfigOption<?> option) throws Exception {
        Method getClazz = ConfigOption.class.getDeclaredMethod("getClazz");
        getClazz.setAccessible(true);
        return (Class<?>) getClazz.invoke(option);
    }

    private static Set<String> fallbackKeys(ConfigOption<?> option) {
        Set<String> keys = new TreeSet<>();
        for (FallbackKey key : option.fallbackKeys()) {
            keys.add(key.getKey() + (key.isDeprecated() ? " (deprecated)" : ""));
        }
        return keys;
    }
}
