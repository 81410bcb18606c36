# cairn_protobuf_c(OUT_SRCS proto1.proto ...): compiles .proto files with
# protoc-c into the current binary dir; appends the generated .c files to OUT_SRCS.
function(cairn_protobuf_c out_var)
    set(srcs)
    foreach(proto ${ARGN})
        get_filename_component(base ${proto} NAME_WE)
        set(c ${CMAKE_CURRENT_BINARY_DIR}/${base}.pb-c.c)
        set(h ${CMAKE_CURRENT_BINARY_DIR}/${base}.pb-c.h)
        add_custom_command(
            OUTPUT ${c} ${h}
            COMMAND ${PROTOC_C} --c_out=${CMAKE_CURRENT_BINARY_DIR}
                    -I${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/${proto}
            DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${proto}
            COMMENT "protoc-c ${proto}")
        list(APPEND srcs ${c})
    endforeach()
    set(${out_var} ${${out_var}} ${srcs} PARENT_SCOPE)
endfunction()

# cairn_test(NAME name LABELS l1 l2 SOURCES a.c LIBS lib1 [TIMEOUT s])
# A cmocka (or plain) test executable registered with ctest under its labels.
function(cairn_test)
    cmake_parse_arguments(T "" "NAME;TIMEOUT" "LABELS;SOURCES;LIBS;ARGS" ${ARGN})
    add_executable(${T_NAME} ${T_SOURCES})
    target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
    add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 120)
    endif()
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                         SKIP_RETURN_CODE 77)
endfunction()

# cairn_script_test(NAME name LABELS l COMMAND cmd args... [TIMEOUT s])
function(cairn_script_test)
    cmake_parse_arguments(T "" "NAME;TIMEOUT" "LABELS;COMMAND" ${ARGN})
    add_test(NAME ${T_NAME} COMMAND ${T_COMMAND})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 300)
    endif()
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                         SKIP_RETURN_CODE 77
                         ENVIRONMENT "CAIRN_BUILD_DIR=${CMAKE_BINARY_DIR};CAIRN_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()
