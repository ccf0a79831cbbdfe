module emgd

go 1.26
