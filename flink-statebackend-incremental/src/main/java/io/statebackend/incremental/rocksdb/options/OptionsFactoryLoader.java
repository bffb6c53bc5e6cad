package io.statebackend.incremental.rocksdb.options;

import io.statebackend.incremental.ConfigurableIncrementalRocksDBOptionsFactory;
import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBOptionsFactory;

import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;

import javax.annotation.Nullable;

import java.lang.reflect.Constructor;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Set;

/**
 * Instantiates the class named by {@code state.backend.rocksdb.options-factory}, once, when the
 * backend is configured, so that a missing or unusable class fails the job at start.
 *
 * <p>The class is looked up first next to the backend (the plugin folder, where it sees the same
 * upstream RocksDB classes), then in the job's class loader. A factory written for Flink's own
 * backend is recognised by its interface's name, without linking to Flink's RocksDB classes, and
 * rejected with a hint how to port it.
 */
public final class OptionsFactoryLoader {

    /** Flink's options factory interface, on FRocksDB's classes. */
    static final String FLINK_FACTORY_INTERFACE =
            "org.apache.flink.contrib.streaming.state.RocksDBOptionsFactory";

    private OptionsFactoryLoader() {}

    /**
     * The configured factory, configured with {@code config} if it is configurable, or null if no
     * factory is configured.
     *
     * @throws IllegalConfigurationException naming the key and the class if it cannot be used
     */
    @Nullable
    public static IncrementalRocksDBOptionsFactory load(
            ReadableConfig config, @Nullable ClassLoader userClassLoader) {
        String className =
                ConfigValues.read(config, IncrementalRocksDBConfigurableOptions.OPTIONS_FACTORY);
        if (className == null || className.trim().isEmpty()) {
            return null;
        }
        className = className.trim();
        Class<?> factoryClass = findClass(className, userClassLoader);
        if (implementsInterfaceNamed(factoryClass, FLINK_FACTORY_INTERFACE)) {
            throw invalid(
                    className,
                    "it implements Flink's "
                            + FLINK_FACTORY_INTERFACE
                            + ", which is built on FRocksDB. This backend runs on upstream RocksDB:"
                            + " implement "
                            + IncrementalRocksDBOptionsFactory.class.getName()
                            + " (or "
                            + ConfigurableIncrementalRocksDBOptionsFactory.class.getName()
                            + " instead of ConfigurableRocksDBOptionsFactory) with the same"
                            + " methods, compile it against rocksdbjni and this backend, and put"
                            + " its jar into plugins/statebackend-incremental/");
        }
        if (!IncrementalRocksDBOptionsFactory.class.isAssignableFrom(factoryClass)) {
            if (implementsInterfaceNamed(
                    factoryClass, IncrementalRocksDBOptionsFactory.class.getName())) {
                throw invalid(
                        className,
                        "it was loaded next to another copy of this backend's classes. Put its jar"
                                + " into plugins/statebackend-incremental/ and do not bundle the"
                                + " backend or rocksdbjni with it");
            }
            throw invalid(
                    className,
                    "it does not implement " + IncrementalRocksDBOptionsFactory.class.getName());
        }
        IncrementalRocksDBOptionsFactory factory = instantiate(className, factoryClass);
        if (factory instanceof ConfigurableIncrementalRocksDBOptionsFactory) {
            factory = ((ConfigurableIncrementalRocksDBOptionsFactory) factory).configure(config);
            if (factory == null) {
                throw invalid(className, "its configure method returned null");
            }
        }
        return factory;
    }

    private static Class<?> findClass(String className, @Nullable ClassLoader userClassLoader) {
        ClassLoader own = OptionsFactoryLoader.class.getClassLoader();
        Throwable failure = null;
        for (ClassLoader loader : new ClassLoader[] {own, userClassLoader}) {
            if (loader == null) {
                continue;
            }
            try {
                return Class.forName(className, false, loader);
            } catch (ClassNotFoundException e) {
                // try the next class loader
            } catch (LinkageError e) {
                failure = e;
            }
        }
        if (failure != null) {
            throw invalid(className, "the class cannot be loaded: " + failure);
        }
        throw invalid(
                className,
                "the class is found neither in plugins/statebackend-incremental/ nor in the job's"
                        + " class path");
    }

    private static IncrementalRocksDBOptionsFactory instantiate(
            String className, Class<?> factoryClass) {
        try {
            Constructor<?> constructor = factoryClass.getDeclaredConstructor();
            constructor.setAccessible(true);
            return (IncrementalRocksDBOptionsFactory) constructor.newInstance();
        } catch (NoSuchMethodException e) {
            throw invalid(className, "it has no constructor without arguments");
        } catch (ReflectiveOperationException | LinkageError e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw invalid(className, "it cannot be instantiated: " + cause);
        }
    }

    /** Whether the class or a super type implements an interface of that name, by name only. */
    static boolean implementsInterfaceNamed(Class<?> type, String interfaceName) {
        Deque<Class<?>> pending = new ArrayDeque<>();
        Set<Class<?>> seen = new HashSet<>();
        pending.add(type);
        while (!pending.isEmpty()) {
            Class<?> current = pending.poll();
            if (!seen.add(current)) {
                continue;
            }
            if (current.isInterface() && current.getName().equals(interfaceName)) {
                return true;
            }
            try {
                if (current.getSuperclass() != null) {
                    pending.add(current.getSuperclass());
                }
                for (Class<?> implemented : current.getInterfaces()) {
                    pending.add(implemented);
                }
            } catch (LinkageError e) {
                // a super type that cannot be loaded is not one the backend could use
            }
        }
        return false;
    }

    private static IllegalConfigurationException invalid(String className, String reason) {
        return ConfigValues.invalid(
                IncrementalRocksDBConfigurableOptions.OPTIONS_FACTORY, className, reason);
    }
}
